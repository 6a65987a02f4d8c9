#!/usr/bin/env bash
# spoold is built in floors, every call going down (../shared/style.md,
# "Layers"): the file-level call graph of spoold/, read from the object files
# of the build under test (nm: the symbols each defines and each needs), has
# no cycle, and no file calls a file of a higher floor or of another module
# on its own floor. Each spoold/*.c says its floor in its header comment, on
# a line "Layer: N NAME" (N higher is nearer main); the test prints the map.
. "$TOP/tests/lib.sh"

obj=$(dirname "$BIN")/obj/spoold
[ -d "$obj" ] || fail "no objects in $obj (build first)"
command -v nm >/dev/null || { echo "SKIP: nm is missing"; exit 77; }
ls "$obj"/*.o >/dev/null 2>&1 || fail "no spoold objects in $obj"

# the objects of today's sources (a stale one of a removed file is not spoold)
objs=()
for o in "$obj"/*.o; do
	[ -f "$TOP/spoold/$(basename "$o" .o).c" ] && objs+=("$o")
done
[ ${#objs[@]} -gt 0 ] || fail "no objects of spoold/*.c in $obj"

# one line per (file, kind, symbol): D defined, U needed
for o in "${objs[@]}"; do
	f=$(basename "$o" .o)
	nm -g --defined-only "$o" | awk -v f="$f" 'NF == 3 { print f, "D", $3 }'
	nm -g --undefined-only "$o" | awk -v f="$f" '{ print f, "U", $NF }'
done >syms

# the floor of each file, from its source's header comment
for o in "${objs[@]}"; do
	f=$(basename "$o" .o)
	src=$TOP/spoold/$f.c
	l=$(sed -n '1,/\*\//s/^ \* Layer: \([0-9]\) \([a-z]*\).*/\1 \2/p' "$src" 2>/dev/null | head -1)
	echo "$f ${l:-? ?}"
done >layers

python3 - syms layers <<'EOF'
import sys
defs, needs = {}, {}
for line in open(sys.argv[1]):
    f, kind, sym = line.split()
    if kind == "D":
        defs[sym] = f
    else:
        needs.setdefault(f, set()).add(sym)
files = sorted({l.split()[0] for l in open(sys.argv[2])})
layer = {}
for l in open(sys.argv[2]):
    f, n, name = l.split()
    layer[f] = (n, name)
edges = {f: {} for f in files}
for f, syms in needs.items():
    for s in syms:
        g = defs.get(s)
        if g and g != f:
            edges[f].setdefault(g, []).append(s)

bad = 0
print("layer map (file: floor module -> files it calls):")
for f in sorted(files, key=lambda f: (layer[f][0], f), reverse=True):
    print("  %-10s %s %-8s -> %s" % (f, layer[f][0], layer[f][1],
          ", ".join(sorted(edges[f])) or "(lib only)"))

# cycles: strongly connected components of more than one file (Tarjan)
index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]
def visit(v):
    index[v] = low[v] = n[0]; n[0] += 1
    stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        c = []
        while True:
            w = stack.pop(); on.discard(w); c.append(w)
            if w == v:
                break
        if len(c) > 1:
            sccs.append(sorted(c))
sys.setrecursionlimit(10000)
for f in files:
    if f not in index:
        visit(f)
for c in sccs:
    bad += 1
    print("FAIL: call cycle between %d files: %s" % (len(c), ", ".join(c)))
    for f in c:
        for g in sorted(edges[f]):
            if g in c:
                print("    %s -> %s (%s)" % (f, g, ", ".join(sorted(edges[f][g])[:4])))

# floors: every call goes to a lower floor, or within one module's floor
for f in files:
    if layer[f][0] == "?":
        bad += 1
        print("FAIL: spoold/%s.c has no 'Layer: N NAME' line in its header" % f)
        continue
    for g in sorted(edges[f]):
        if layer[g][0] == "?":
            continue
        up = int(layer[g][0]) > int(layer[f][0])
        side = layer[g][0] == layer[f][0] and layer[g][1] != layer[f][1]
        if up or side:
            bad += 1
            print("FAIL: %s (%s %s) calls %s (%s %s), %s: %s" % (f, layer[f][0],
                  layer[f][1], g, layer[g][0], layer[g][1],
                  "a floor up" if up else "another module on its floor",
                  ", ".join(sorted(edges[f][g])[:4])))
sys.exit(1 if bad else 0)
EOF
