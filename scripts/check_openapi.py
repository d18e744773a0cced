#!/usr/bin/env python3
"""Validates the service's OpenAPI document against the OpenAPI 3 specification.

usage: scripts/check_openapi.py [OCCUSEARCH_BINARY]
Prints the document with `occusearch serve --openapi` (the same one GET /openapi.json serves) and
validates it with openapi-spec-validator; exits non-zero with the first violation.
Needs: pip install openapi-spec-validator
"""
import json
import subprocess
import sys

from openapi_spec_validator import validate

binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/occusearch"
document = json.loads(subprocess.run([binary, "serve", "--openapi"], check=True, capture_output=True,
                                     text=True).stdout)
validate(document)
paths = document["paths"]
operations = sum(1 for item in paths.values() for method in item if method in {"get", "post"})
print(f"OpenAPI {document['openapi']}: valid ({len(paths)} paths, {operations} operations)")
