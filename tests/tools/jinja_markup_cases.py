#!/usr/bin/env python3
"""Writes tests/chat/jinja_markup_test.cpp: Markup semantics and the loop and
macro features (recursive loops, loop.changed, varargs/kwargs, cycler,
joiner), each case's expected text printed by Python Jinja2 in transformers'
environment. Run: python3 tests/tools/jinja_markup_cases.py (needs jinja2;
Debian: apt-get install python3-jinja2). The test itself needs no Python."""
import json
import pathlib

import jinja2
import jinja2.ext
import jinja2.sandbox

TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Get the \"current\" weather <fast> & 'free'",
                                      "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
    {"name": "lookup", "description": "Look a <term> up", "parameters": {}},
]
TREE = [{"n": "a", "c": [{"n": "b", "c": []}, {"n": "c", "c": [{"n": "d", "c": []}]}]}, {"n": "e", "c": []}]

# Markup: |safe, |escape, concatenation with + (the plain side is escaped), ~
# (plain str), %, |format, methods, |string, tojson (transformers' json.dumps
# returns plain str), indexing and slicing, repr.
CASES = [
    '{{ "<a>"|safe + "<b>" }}|{{ "<b>" + "<a>"|safe }}|{{ "<a>"|safe + "<b>"|safe }}',
    '{{ ("<a>"|safe ~ "<b>") + "&" }}|{{ ("<a>"|safe) ~ ("<b>"|e) }}',
    '{{ 5|safe }}|{{ none|safe }}|{{ undef|safe }}|{{ undef|e }}|{{ none|e }}|{{ 5|e }}|{{ [1, "<"]|e }}',
    '{{ ("<"|e)|e }}|{{ "<"|forceescape|forceescape }}|{{ "<&>\\"\'"|escape }}',
    '{{ ("%s<"|safe) % "<" }}|{{ ("%s<"|safe) % 5 }}|{{ ("%s"|safe) % (["a"],) }}|{{ "%s" % ("<"|safe) }}|{{ ("%d%%"|safe) % 3 }}',
    '{{ ("%(a)s%(b)d"|safe) % {"a": "<", "b": 2} }}|{{ ("%s-%s"|safe) % ("<", "x"|safe) }}',
    '{{ ("x<"|safe) * 2 + "<" }}|{{ (("<"|safe) + "<") is escaped }}{{ ("<"|safe ~ "") is escaped }}{{ ("<"|safe)|string is escaped }}{{ "<" is escaped }}',
    '{{ ("<a"|safe).upper() + "<" }}|{{ ("a b"|safe).split()[0] + "<" }}|{{ ("a"|safe).replace("a", "<") }}|{{ ("{}"|safe).format("<") }}|{{ (","|safe).join(["<", ">"]) }}',
    '{{ ("a<"|safe).replace("<", "x") }}|{{ ("a"|safe).center(5, "-") + "<" }}|{{ ("a<"|safe).strip("<") + "<" }}|{{ ("<a"|safe)|trim("<") }}|{{ (" <a "|safe).strip() + "<" }}|{{ ("a,b"|safe).partition(",")[2] + "<" }}|{{ ("ab"|safe).startswith("a") }}',
    '{{ ("ab"|safe)[0] + "<" }}|{{ ("ab"|safe)[:1] + "<" }}|{{ ("ab"|safe)|first + "<" }}|{{ ("ab"|safe)|reverse + "<" }}|{{ ("ab"|safe)|upper + "<" }}|{{ ("ab"|safe)|trim + "<" }}|{{ ("ab"|safe)|title + "<" }}',
    '{{ (["<"|safe, "b"]|join(",")) + "<" }}|{{ ("<"|safe)|replace("<", ">") + "<" }}|{{ ("%s"|safe)|format("<") }}|{{ {"a": "<"|safe}|tojson }}|{{ ("<"|safe)|tojson + "<" }}',
    '{{ ("a"|safe) == "a" }}{{ "a"|safe in ["a"] }}{{ {"a": 1}["a"|safe] }}{{ ("<"|safe)|length }}{{ ("<"|safe)|list }}',
    '{% macro m() %}<{% endmacro %}{{ m() + "<" }}|{% set x %}<{% endset %}{{ x + "<" }}|{{ ("<"|safe)|center(5) + "<" }}|{{ ("<"|safe)|indent(2, true) + "<" }}',
    '{{ ("a"|safe)|capitalize + "<" }}{{ ("A"|safe)|lower + "<" }}{{ ("<a>"|safe)|string + "&" }}{{ ("a"|safe)|d + "&" }}',
    '{{ "&"|e + "&" }}|{{ "&"|escape ~ "&" }}|{{ ["<"|safe] }}|{{ ("<"|safe).partition("x") }}|{{ {"k": "v"|safe} }}',
    '{% set parts = [] %}{% for p in ["<", ">"|safe] %}{% set parts = parts + [p|safe] %}{% endfor %}{{ parts|join("") + "&" }}',
    # The functionary-medium-v3.1 pattern: a "...|safe" string concatenated
    # with plain strings and a tojson result, which Jinja2 HTML-escapes.
    '{%- for t in tools %}\n'
    '{%- if "type" in t -%}\n'
    '{{ "Use the function \'"|safe + t["function"]["name"] + "\' to \'"|safe + t["function"]["description"] + "\'\\n"|safe + t["function"] | tojson() }}\n'
    '{%- else -%}\n'
    '{{ "Use the function \'"|safe + t["name"] + "\' to \'"|safe + t["description"] + "\'\\n"|safe + t | tojson }}\n'
    '{%- endif -%}\n'
    '{{- "\\n\\n" }}\n'
    '{%- endfor %}',
    # Recursive loops, loop.depth, loop(...) with a filter and an else.
    '{% for t in tree recursive %}[{{ loop.depth }}{{ loop.depth0 }}{{ t.n }}{% if t.c %}({{ loop(t.c) }}){% endif %}]{% endfor %}',
    '{% for t in tree recursive %}{{ t.n }}{{ loop.index }}/{{ loop.length }}{{ loop(t.c) }}{% else %}E{% endfor %}',
    '{% for t in tree if t.n != "c" recursive %}{{ t.n }}{{ loop(t.c)|upper }}{% endfor %}',
    '{% for t in tree recursive %}{% set x = t.n %}{{ x }}{{ loop(t.c) ~ x }}{% endfor %}',
    '{% for i in [[1, [2]], 3] recursive %}{% if i is iterable %}{{ loop(i) }}{% else %}{{ i }}@{{ loop.depth }}{% endif %}{% endfor %}',
    '{% for a in [1, 2] %}{% for b in [3, 4] recursive %}{{ loop.depth }}{{ b }}{% endfor %}{% endfor %}',
    '{% for t in tree recursive %}{{ t.n }}{% if loop.first %}{% for x in [1] %}{{ loop.depth }}{% endfor %}{% endif %}{{ loop(t.c) }}{% endfor %}',
    # loop.changed and loop.cycle.
    '{% for i in [1, 1, 2, 3, 3, 1] %}{% if loop.changed(i) %}{{ i }}{% endif %}{% endfor %}',
    '{% for i in [1, 1, 2] %}{{ loop.changed(i, 5) }}{{ loop.changed() }}{% endfor %}',
    '{% for m in [{"r": "u"}, {"r": "u"}, {"r": "a"}] %}{% if loop.changed(m.r) %}<{{ m.r }}>{% endif %}{{ loop.cycle("x", "y") }}{% endfor %}',
    # Macro varargs and kwargs.
    '{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, x=4) }}|{{ m(1) }}',
    '{% macro m(a) %}{{ varargs|length }}{% endmacro %}{{ m(1, 2, 3) }}',
    '{% macro m(a) %}{{ kwargs }}{% endmacro %}{{ m(1, b=2, c=3) }}',
    '{% macro m(a, b=2) %}{{ a }}{{ b }}{{ varargs }}{% endmacro %}{{ m(1, 3, 4) }}|{{ m(b=5, a=0) }}',
    '{% macro m() %}{% for v in varargs %}{{ v }}{% endfor %}{% for k, v in kwargs|dictsort %}{{ k }}={{ v }}{% endfor %}{% endmacro %}{{ m(1, 2, z=1, y=2) }}',
    '{% macro outer() %}{% macro inner() %}{{ varargs }}{% endmacro %}{{ inner(1) }}{% endmacro %}{{ outer(7) }}',
    # cycler and joiner.
    '{% set c = cycler("x", "y", "z") %}{{ c.current }}{{ c.next() }}{{ c.next() }}{{ c.current }}{{ c.next() }}{{ c.next() }}{% set _ = c.reset() %}{{ c.next() }}{{ c.current }}',
    '{% set c = cycler(1, 2) %}{% for i in range(3) %}{{ c.next() }}{% endfor %}{{ c.current }}',
    '{% set j = joiner() %}{% for i in range(3) %}{{ j() }}{{ i }}{% endfor %}|{% set j = joiner(" | ") %}{% for i in range(3) %}{{ j() }}{{ i }}{% endfor %}',
    '{% set j = joiner(sep="-") %}{{ j() }}{{ j() }}{{ j() }}',
    # Errors.
    '{{ "<"|safe + 5 }}',
    '{{ ("<"|safe) + none }}',
    '{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}',
    '{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, b=2) }}',
    '{% set c = cycler() %}{{ c.next() }}',
]


def make_env():
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                                       extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = lambda x, ensure_ascii=False, indent=None, separators=None, sort_keys=False: json.dumps(
        x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
    return env


def cpp_string(s):
    assert ")J\"" not in s
    return 'R"J(' + s + ')J"'


def main():
    env = make_env()
    rows = []
    for src in CASES:
        try:
            out, err = env.from_string(src).render(tools=TOOLS, tree=TREE), False
        except Exception as e:  # the engine must fail with Python's message
            out, err = str(e), True
        rows.append(f"    {{{cpp_string(src)},\n     {cpp_string(out)}, {'true' if err else 'false'}}},")
    tools_json = json.dumps(TOOLS)
    tree_json = json.dumps(TREE)
    text = f"""// Generated by tests/tools/jinja_markup_cases.py: markupsafe.Markup semantics
// (|safe, |escape, + and % escaping the plain operand, |string, tojson) and
// recursive loops, loop.changed, macro varargs/kwargs, cycler and joiner.
// Expected strings are what Python Jinja2 {jinja2.__version__} printed in transformers'
// environment (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks,
// loopcontrols, json.dumps tojson); errors give str(exception).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "chat/jinja/template.h"

namespace hearth::chat::jinja {{
namespace {{

struct MarkupCase {{
  const char* source;
  const char* expected;  // output, or the error message when is_error
  bool is_error;
}};

const MarkupCase kMarkupCases[] = {{
{chr(10).join(rows)}
}};

TEST(JinjaMarkup, MatchesPythonJinja2) {{
  Dict vars;
  vars.set("tools", Value::from_json(nlohmann::ordered_json::parse({cpp_string(tools_json)})));
  vars.set("tree", Value::from_json(nlohmann::ordered_json::parse({cpp_string(tree_json)})));
  for (const MarkupCase& c : kMarkupCases) {{
    SCOPED_TRACE(c.source);
    try {{
      std::string out = Template(c.source).render(vars, RenderOptions{{}});
      EXPECT_FALSE(c.is_error) << "expected the error: " << c.expected;
      EXPECT_EQ(out, c.expected);
    }} catch (const TemplateError& e) {{
      EXPECT_TRUE(c.is_error) << e.what();
      EXPECT_EQ(e.message(), c.expected);
    }}
  }}
}}

}}  // namespace
}}  // namespace hearth::chat::jinja
"""
    path = pathlib.Path(__file__).resolve().parents[1] / "chat" / "jinja_markup_test.cpp"
    path.write_text(text)
    print(f"wrote {path} ({len(rows)} cases)")


if __name__ == "__main__":
    main()
