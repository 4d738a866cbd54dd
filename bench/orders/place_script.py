#!/usr/bin/env python3
"""The place-order script as bloomcast sends it, read from the C++ sources.

    place_script.py lua ORDERSCRIPTS_CC   # the script text (kPlace), byte for byte
    place_script.py keys KEYS_H           # its keys' parts, one per line (placeKeys' kParts,
                                          # without the room channel, which is an argument)

The benches load the exact bytes, so the script's SHA1 is the one bloomcast calls."""
import re
import sys

kind, path = sys.argv[1], sys.argv[2]
text = open(path, encoding="utf-8").read()
if kind == "lua":
    marker = 'const std::string kPlace = R"lua('
    start = text.index(marker) + len(marker)
    sys.stdout.write(text[start:text.index(')lua";', start)])
elif kind == "keys":
    parts = re.findall(r'"([^"]*)"', re.search(r"kParts\[\] = \{([^}]*)\}", text).group(1))
    sys.stdout.write("".join(p + "\n" for p in parts if p != "room"))
else:
    sys.exit(f"place_script.py: unknown kind {kind!r} (lua or keys)")
