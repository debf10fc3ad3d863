"""Every file the documentation and the help texts point to exists in the repository: paths under
a top-level folder (data_schema/domains.md, workflows/demo.ini, ...), bare document names
(`structures.md`: beside the citing file, at the root or in data_schema/) and markdown links.
Nothing may point outside the repository but the shared real-data fixtures (../shared/data/)."""
import glob
import os
import re

from tmdtest import SOURCE, check, finish, run_ok

TOP = sorted(d for d in os.listdir(SOURCE) if os.path.isdir(os.path.join(SOURCE, d))
             and not d.startswith(".") and not d.startswith("build") and d not in ("out", "demo_out"))
EXT = r"(?:md|ini|schema|sbatch|sh|py|cmake|in|cpp|hpp|txt|json)"
# A path under a top-level folder, or one that climbs out of the repository.
PATH = re.compile(r"(?<![\w/.${-])((?:\.\./)+[\w./-]*|(?:%s)/[\w./-]*[\w/])" % "|".join(map(re.escape, TOP)))
BARE_MD = re.compile(r"(?<![\w/.-])([\w-]+\.md)\b")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def exists(ref, citing_dir):
    ref = ref.rstrip(".,;:")
    for base in (SOURCE, citing_dir):
        if os.path.exists(os.path.join(base, ref)):
            return True
    return False


def check_text(text, where, citing_dir=SOURCE, problems=None):
    """Checks the references of `text`; returns how many it found. Problems go to `problems` when
    given (the self-test), else they fail the test."""
    def bad(message):
        if problems is None:
            check(False, message)
        else:
            problems.append(message)

    found = 0
    for m in PATH.finditer(text):
        ref = m.group(1).rstrip(".,;:")
        if any(c in ref for c in "*{<") or text[m.end():].lstrip(".")[:1] in ("*", "{", "<"):  # a pattern, not a file
            continue
        found += 1
        # The shared real-data fixtures live beside the checkout on purpose (README, tests/CMakeLists.txt);
        # a document or source file never does.
        if ref.startswith("../") and not ref.startswith("../shared/data/"):
            bad(f"{where}: '{ref}' points outside the repository")
        elif not ref.startswith("../") and not exists(ref, citing_dir):
            bad(f"{where}: '{ref}' does not exist")
    for m in BARE_MD.finditer(text):
        name = m.group(1)
        if text[max(0, m.start() - 1)] == "/":
            continue
        found += 1
        if not any(os.path.exists(os.path.join(d, name)) for d in (citing_dir, SOURCE, os.path.join(SOURCE, "data_schema"))):
            bad(f"{where}: '{name}' is neither beside it, at the root nor in data_schema/")
    for m in LINK.finditer(text):
        ref = m.group(1)
        if re.match(r"[a-z]+:", ref):  # http:, mailto:
            continue
        found += 1
        if not os.path.exists(os.path.normpath(os.path.join(citing_dir, ref))):
            bad(f"{where}: link '{ref}' does not resolve")
    return found


# Help texts: every stage's and every command's.
stages = [l.split()[0] for l in run_ok(["stages"]).splitlines() if l.strip()]
cited = 0
for name in stages:
    cited += check_text(run_ok(["stage", name, "--help"]), f"tmdflow stage {name} --help")
for command in ["run", "stage", "stages", "inspect", "validate", "help"]:
    cited += check_text(run_ok(["help", command]), f"tmdflow help {command}")
check(cited >= len(stages), f"only {cited} references found in the help texts: is the pattern still right?")
help_text = run_ok(["stage", "diffraction-features", "--help"])
check("data_schema/diffraction.md" in help_text, "diffraction-features --help no longer cites data_schema/diffraction.md")

# The documents: README.md and every markdown file of the repository's own folders.
docs = [os.path.join(SOURCE, "README.md")]
for d in TOP:
    docs += glob.glob(os.path.join(SOURCE, d, "**", "*.md"), recursive=True)
for doc in docs:
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    n = check_text(text, os.path.relpath(doc, SOURCE), os.path.dirname(doc))
    if os.path.basename(doc) == "README.md" and os.path.dirname(doc) == SOURCE:
        check(n >= 10, f"README.md: only {n} references found")
        check("docs/ARCHITECTURE.md" in text, "README.md does not point at docs/ARCHITECTURE.md")

# The guard itself: each made-up reference is caught.
caught = []
check_text("see data_schema/no_such_file.md, `nosuch.md`, [x](nowhere.md) and ../shared/DESIGN.md", "self-test",
           problems=caught)
for ref in ["data_schema/no_such_file.md", "nosuch.md", "nowhere.md", "../shared/DESIGN.md"]:
    check(any(ref in c for c in caught), f"self-test: '{ref}' was not caught ({caught})")

finish()
