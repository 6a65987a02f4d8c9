/*
 * version: the release every program reports with --version (and the
 * Python client as spool.__version__). One place to change it.
 */
#ifndef SPOOL_VERSION_H
#define SPOOL_VERSION_H

#define SPOOL_VERSION "1.0"

#endif
