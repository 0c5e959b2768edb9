#!/usr/bin/env python3
"""The include graph of the library's headers, folder by folder, and the cycles in it.

Run:   python3 tools/include_graph.py [--format text|mermaid] [--headers] [--umbrella] [--verbose] [--check]
                                        [--root DIR]
       (any Python 3.8+; the standard library only)

Reads every header under ROOT (default: include/larimar of this checkout), takes its #include lines that name
a larimar header, and folds them into a graph between the top-level folders (core, storage, keys, ...; a folder's
detail/ or kernels/ belongs to it; larimar.hpp, the umbrella, is its own node). Prints
  text     the folder edges with how many include lines make each, the third-party headers each folder includes,
           the strongly connected folders, every elementary cycle between folders, the fewest edges whose
           removal would leave none (with their include lines), with --verbose every edge on a cycle with
           its include lines, and any cycle between single headers;
  mermaid  the same folder graph as a mermaid flowchart for docs/design.md, the fewest edges whose removal
           would leave no cycle drawn red; --headers lists each folder's headers inside its box, --umbrella adds
           larimar.hpp (it includes every folder).
--check exits with status 1 when the folders form a cycle (or headers do), 0 otherwise.
"""
import argparse
import itertools
import pathlib
import re
import sys
from collections import defaultdict

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')
THIRD_PARTY = [  # (label, how an include path starts)
    ("thrust/CUB (CCCL)", ("thrust/", "cub/", "cuda/")),
    ("xtensor", ("xtensor/", "xtl/")),
    ("nlohmann_json", ("nlohmann/",)),
    ("CBLAS", ("cblas.h",)),
    ("CUDA runtime, cuBLAS, cuSOLVER", ("cuda_runtime", "cublas", "cusolver")),
    ("x86 intrinsics", ("immintrin.h",)),
    ("MPI", ("mpi.h",)),
]


def folder_of(rel: str) -> str:
    parts = rel.split("/")
    return parts[0] if len(parts) > 1 else rel


def scan(root: pathlib.Path):
    """header -> [(line number, included larimar header)], header -> set of third-party labels."""
    includes, external = {}, defaultdict(set)
    for path in sorted(root.rglob("*.hpp")):
        rel = path.relative_to(root).as_posix()
        includes[rel] = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            target = m.group(1)
            if target.startswith("larimar/"):
                includes[rel].append((number, target[len("larimar/"):]))
                continue
            for label, prefixes in THIRD_PARTY:
                if target.startswith(prefixes):
                    external[rel].add(label)
    return includes, external


def folder_graph(includes):
    """(from folder, to folder) -> [(header, line, included header)]."""
    edges = defaultdict(list)
    for header, incs in includes.items():
        for line, target in incs:
            a, b = folder_of(header), folder_of(target)
            if a != b:
                edges[(a, b)].append((header, line, target))
    return edges


def strongly_connected(nodes, succ):
    """Tarjan's algorithm; components with more than one node, or a node on a loop."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(succ.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in succ.get(v, ()):
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return sorted(out)


def elementary_cycles(nodes, succ):
    """Every simple cycle, each once, starting at its smallest node (fine for a few dozen nodes)."""
    order = sorted(nodes)
    rank = {v: i for i, v in enumerate(order)}
    cycles = []
    for start in order:
        path = [start]

        def extend(v):
            for w in sorted(succ.get(v, ())):
                if w == start:
                    cycles.append(list(path))
                elif rank[w] > rank[start] and w not in path:
                    path.append(w)
                    extend(w)
                    path.pop()

        extend(start)
    return sorted(cycles, key=lambda c: (len(c), c))


def fewest_edges_to_cut(nodes, succ, cyclic_edges, edges, most=6):
    """A smallest set of edges whose removal makes the graph acyclic (ties: fewest include lines), or None."""
    if not cyclic_edges:
        return []
    candidates = sorted(cyclic_edges)
    for k in range(1, min(most, len(candidates)) + 1):
        best = None
        for subset in itertools.combinations(candidates, k):
            rest = {a: {b for b in bs if (a, b) not in subset} for a, bs in succ.items()}
            if not strongly_connected(nodes, rest):
                weight = sum(len(edges[e]) for e in subset)
                if best is None or weight < best[0]:
                    best = (weight, list(subset))
        if best:
            return best[1]
    return None


def header_cycles(includes):
    succ = {h: {t for _, t in incs if t in includes} for h, incs in includes.items()}
    return strongly_connected(includes.keys(), succ)


def mermaid_id(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def render_mermaid(includes, edges, cut, with_headers, with_umbrella):
    folders = sorted({folder_of(h) for h in includes if with_umbrella or "/" in h})
    edges = {e: v for e, v in edges.items() if e[0] in folders and e[1] in folders}
    lines = ["flowchart TD"]
    for f in folders:
        headers = sorted(h for h in includes if folder_of(h) == f)
        label = f if f.endswith(".hpp") else f"{f}/ ({len(headers)})"
        if with_headers and not f.endswith(".hpp"):
            lines.append(f'  subgraph {mermaid_id(f)}["{label}"]')
            for h in headers:
                lines.append(f'    {mermaid_id(h)}["{h[len(f) + 1:]}"]')
            lines.append("  end")
        else:
            lines.append(f'  {mermaid_id(f)}["{label}"]')
    red = []
    for n, ((a, b), incs) in enumerate(sorted(edges.items())):
        lines.append(f"  {mermaid_id(a)} -->|{len(incs)}| {mermaid_id(b)}")
        if (a, b) in cut:
            red.append(str(n))
    if red:
        lines.append(f"  linkStyle {','.join(red)} stroke:#d33,stroke-width:2px")
    return "\n".join(lines)


def main() -> int:
    repo = pathlib.Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=str(repo / "include" / "larimar"), help="the headers' root folder")
    parser.add_argument("--format", choices=("text", "mermaid"), default="text")
    parser.add_argument("--headers", action="store_true", help="mermaid: list each folder's headers in its box")
    parser.add_argument("--umbrella", action="store_true", help="mermaid: also draw larimar.hpp and its edges")
    parser.add_argument("--verbose", action="store_true", help="text: also every edge on a cycle, line by line")
    parser.add_argument("--check", action="store_true", help="exit 1 when folders (or headers) form a cycle")
    args = parser.parse_args()

    root = pathlib.Path(args.root)
    if not root.is_dir():
        parser.error(f"{root} is not a directory")
    includes, external = scan(root)
    edges = folder_graph(includes)
    folders = {folder_of(h) for h in includes}
    succ = defaultdict(set)
    for a, b in edges:
        succ[a].add(b)
    components = strongly_connected(folders, succ)
    cycles = elementary_cycles(folders, succ)
    cyclic_edges = {(c[i], c[(i + 1) % len(c)]) for c in cycles for i in range(len(c))}
    loops = header_cycles(includes)

    if args.format == "mermaid":
        cut = fewest_edges_to_cut(folders, succ, cyclic_edges, edges) or []
        print(render_mermaid(includes, edges, set(cut), args.headers, args.umbrella))
    else:
        print(f"{len(includes)} headers in {len(folders)} folders under {root}")
        print("\nfolder -> folder (include lines)")
        for (a, b), incs in sorted(edges.items()):
            mark = "  (on a cycle)" if (a, b) in cyclic_edges else ""
            print(f"  {a} -> {b} ({len(incs)}){mark}")
        print("\nthird-party headers, by folder")
        by_folder = defaultdict(lambda: defaultdict(list))
        for header, labels in external.items():
            for label in labels:
                by_folder[folder_of(header)][label].append(header)
        for f in sorted(by_folder):
            for label, headers in sorted(by_folder[f].items()):
                print(f"  {f}: {label}: {', '.join(sorted(headers))}")
        print(f"\nstrongly connected folders: {len(components)}")
        for comp in components:
            print("  {" + ", ".join(comp) + "}")
        print(f"\nelementary cycles between folders: {len(cycles)}")
        for c in cycles:
            print("  " + " -> ".join(c + [c[0]]))
        cut = fewest_edges_to_cut(folders, succ, cyclic_edges, edges)
        if cut:
            print(f"\nthe fewest include edges whose removal leaves no cycle ({len(cut)}; fewest include lines "
                  "among the choices):")
            for a, b in cut:
                for header, line, target in edges[(a, b)]:
                    print(f"  {a} -> {b}: {header}:{line} includes {target}")
        if args.verbose:
            print("\nevery edge on a cycle, with its include lines")
        for a, b in sorted(cyclic_edges) if args.verbose else ():
            for header, line, target in edges[(a, b)]:
                print(f"  {a} -> {b}: {header}:{line} includes {target}")
        print(f"\ncycles between headers: {len(loops)}")
        for comp in loops:
            print("  {" + ", ".join(comp) + "}")
    if args.check and (cycles or loops):
        print(f"include_graph: {len(cycles)} folder cycle(s), {len(loops)} header cycle(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
