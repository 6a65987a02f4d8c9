"""The token-file rule, the same as lib/token.c's (spoold, runner, spoolctl).

The file holds the bearer token. Trailing white space (a final newline, a
blank an editor left) is ignored; what is left must be 1 to 1024 bytes of
printable ASCII without blanks (bytes 0x21 to 0x7e), else the file is refused
with a message saying why.
"""

from ._errors import SpoolError

TOKEN_FILE_MAX = 1024


def read_token_file(path):
    """Return the token held in the file at ``path``; SpoolError if unfit."""
    try:
        with open(path, "rb") as f:
            data = f.read(TOKEN_FILE_MAX + 4097)
    except OSError as e:
        raise SpoolError("cannot read token file '%s': %s" % (path, e.strerror)) from None
    data = data.rstrip(b" \t\r\n\v\f")
    if not data:
        raise SpoolError("token file '%s' is empty" % path)
    if len(data) > TOKEN_FILE_MAX:
        raise SpoolError("token file '%s': the token is longer than %d bytes" % (path, TOKEN_FILE_MAX))
    for i, b in enumerate(data):
        if b < 0x21 or b > 0x7e:
            raise SpoolError("token file '%s': byte %d is a blank, a control character "
                             "or not ASCII (0x%02x)" % (path, i, b))
    return data.decode("ascii")
