"""Test helper: parse YAML files with PyYAML (safe loader, all documents) and print them as JSON.

Usage: parse_yaml.py FILE... ; prints {"FILE": [doc, ...], ...}. A syntax error exits 1 naming the file.
"""
import json
import sys

import yaml

result = {}
for path in sys.argv[1:]:
    try:
        with open(path, encoding="utf-8") as handle:
            result[path] = list(yaml.safe_load_all(handle))
    except yaml.YAMLError as error:
        print(f"{path}: {error}", file=sys.stderr)
        sys.exit(1)
json.dump(result, sys.stdout, default=str)
