#!/usr/bin/python3
"""Checks an asciicast v2 recording (tests/t-record.sh).

Usage: cast_check.py FILE EXPRESSION. Every line of FILE must be JSON;
EXPRESSION is a Python expression over header (the first line), events
(the others, as lists) and text(code) (the data of the events of that
code, joined). Exit status 0 when it holds."""
import json
import sys

lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
header = json.loads(lines[0])
events = [json.loads(line) for line in lines[1:]]


def text(code):
    return "".join(e[2] for e in events if e[1] == code)


sys.exit(0 if eval(sys.argv[2]) else 1)
