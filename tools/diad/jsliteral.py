"""Reads the minified JavaScript object literals that nsfwjs ships (`a.exports={...}` / `a.exports="..."`)."""

import json
import re

_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _export_start(src):
    m = re.search(r"\[function\(\w+,(\w+),\w+\)\{\1\.exports\s*=\s*", src)
    if not m:
        raise ValueError("expected a browserify bundle whose module sets `<m>.exports=`")
    return m.end()


def read_export(src):
    """Returns the exported value (object literal or string) as Python data."""
    i = _export_start(src)
    out = []
    depth = 0
    while True:
        c = src[i]
        if c in "\"'":
            j = i + 1
            while src[j] != c:
                j += 2 if src[j] == "\\" else 1
            text = src[i + 1 : j]
            if c == "'":
                text = text.replace('"', '\\"')
            out.append('"' + text + '"')
            i = j + 1
        elif c in "{[":
            depth += 1
            out.append(c)
            i += 1
        elif c in "}]":
            depth -= 1
            out.append(c)
            i += 1
        elif c in ",:":
            out.append(c)
            i += 1
        elif c == "!" and src[i + 1] in "01":
            out.append("true" if src[i + 1] == "0" else "false")
            i += 2
        elif c.isspace():
            i += 1
        else:
            m = _NUMBER.match(src, i)
            if m:
                num = m.group(0)
                num = re.sub(r"^(-?)\.", r"\g<1>0.", num)
                num = re.sub(r"\.(?=$|[eE])", "", num)
                out.append(num)
                i = m.end()
            else:
                m = _IDENT.match(src, i)
                if not m:
                    raise ValueError(f"unexpected character {c!r} at {i}")
                word = m.group(0)
                i = m.end()
                nxt = src[i:].lstrip()[:1]
                if nxt == ":" and out and out[-1] in ("{", ","):
                    out.append('"' + word + '"')
                elif word in ("null", "true", "false"):
                    out.append(word)
                elif word == "void":
                    out.append("null")
                    i = src.index("0", i) + 1
                else:
                    raise ValueError(f"unexpected identifier {word!r} at {i}")
        if depth == 0:
            break
    return json.loads("".join(out))
