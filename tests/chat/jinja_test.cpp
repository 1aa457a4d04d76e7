// Engine semantics, case by case. Expected outputs were produced by Python
// Jinja2 3.1.6 in transformers' environment (ImmutableSandboxedEnvironment,
// trim_blocks, lstrip_blocks, loopcontrols, json.dumps tojson), with
// x = {'a': 1, 'b': [1.5, "it's", None, True]} and s = '  Hello, World  '.
#include <gtest/gtest.h>

#include "chat/jinja/template.h"
#include "common/cpu_time.h"

namespace hearth::chat::jinja {
namespace {

struct Case {
  const char* source;
  const char* expected;  // output, or the error message when is_error
  bool is_error;
  bool raised;           // error comes from raise_exception (message must match)
};

const Case kCases[] = {
    {R"J({{ x }})J", R"J({'a': 1, 'b': [1.5, "it's", None, True]})J", false, false},
    {R"J({{ x.b }})J", R"J([1.5, "it's", None, True])J", false, false},
    {R"J({{ x.b|tojson }})J", R"J([1.5, "it's", null, true])J", false, false},
    {R"J({{ x|tojson(indent=2) }})J", R"J({
  "a": 1,
  "b": [
    1.5,
    "it's",
    null,
    true
  ]
})J", false, false},
    {R"J({{ [1.0, 2.5e-7, 1e16, 123456789.125, -0.0] }})J", R"J([1.0, 2.5e-07, 1e+16, 123456789.125, -0.0])J", false, false},
    {R"J({{ s.strip() }}|{{ s.split(',') }}|{{ s.split() }}|{{ s.lstrip() }}|{{ s.rstrip()|length }})J", R"J(Hello, World|['  Hello', ' World  ']|['Hello,', 'World']|Hello, World  |14)J", false, false},
    {R"J({{ 'a,b,,c'.split(',', 1) }})J", R"J(['a', 'b,,c'])J", false, false},
    {R"J({{ 'héllo'[1:3] }}{{ 'abc'[::-1] }}{{ [1,2,3,4][-2:] }})J", R"J(élcba[3, 4])J", false, false},
    {R"J({% set ns = namespace(n=0) %}{% for i in range(5) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }})J", R"J(10)J", false, false},
    {R"J({% set v = 1 %}{% for i in [1,2] %}{% set v = v + i %}{{ v }}{% endfor %}{{ v }})J", R"J(231)J", false, false},
    {R"J({% for a in ['x','y','z'] %}{{ loop.index }}{{ loop.previtem }}{{ loop.nextitem }}{{ loop.first }}{{ loop.last }};{% endfor %})J", R"J(1yTrueFalse;2xzFalseFalse;3yFalseTrue;)J", false, false},
    {R"J({% for i in range(10) if i is odd %}{{ i }}{{ loop.length }}{% if i > 4 %}{% break %}{% endif %}{% endfor %})J", R"J(153555)J", false, false},
    {R"J({% macro f(n, sep='-') %}{% if n > 0 %}{{ n }}{{ sep }}{{ f(n - 1, sep) }}{% endif %}{% endmacro %}{{ f(3) }}{{ f(2, sep='+') }})J", R"J(3-2-1-2+1+)J", false, false},
    {R"J(  {% if true %}
  yes
  {% endif %}
end
)J", R"J(  yes
end)J", false, false},
    {R"J(a  {%- if true -%}  b  {%- endif %}  c
{# comment #}
d {{- ' e ' -}} f)J", R"J(ab  c
d e f)J", false, false},
    {R"J({{ 'hi %s and %d' % ('x', 3) }} {{ '%sr'|format(x) }})J", R"J(hi x and 3 {'a': 1, 'b': [1.5, "it's", None, True]}r)J", false, false},
    {R"J({{ x.items()|list }}|{{ x|dictsort }}|{{ x.get('zz', 'dflt') }}|{{ x.zz is defined }}|{{ x.zz|default('d') }})J", R"J([('a', 1), ('b', [1.5, "it's", None, True])]|[('a', 1), ('b', [1.5, "it's", None, True])]|dflt|False|d)J", false, false},
    {R"J({{ [3,1,2]|sort }}{{ ['b','A','a']|unique|list }}{{ [{'n':'a'},{'n':'b'}]|map(attribute='n')|join(',') }}{{ [1,2,3]|select('odd')|list }})J", R"J([1, 2, 3]['b', 'A']a,b[1, 3])J", false, false},
    {R"J({{ strftime_now('%d %b %Y') }} {{ strftime_now('%B %d, %Y %A %H:%M') }})J", R"J(15 Jan 2026 January 15, 2026 Thursday 10:30)J", false, false},
    {R"J({{ 'line1\nline2\n\nline4'|indent(2) }}|{{ 'a\nb'|indent(4, true) }})J", R"J(line1
  line2

  line4|    a
    b)J", false, false},
    {R"J({{ none }}{{ true }}{{ 1 / 2 }}{{ 7 // 2 }}{{ -7 // 2 }}{{ -7 % 3 }}{{ 2 ** 10 }}{{ 'ab' * 3 }})J", R"J(NoneTrue0.53-421024ababab)J", false, false},
    {R"J({{ x.b[1] is string }}{{ x is mapping }}{{ x.b is iterable }}{{ none is none }}{{ undefined_var is iterable }}{{ 0 is false }})J", R"J(TrueTrueTrueTrueTrueFalse)J", false, false},
    {R"J({{ x.b.append(1) }})J", R"J(access to attribute 'append' of 'list' object is unsafe.)J", true, false},
    {R"J({{ raise_exception('boom') }})J", R"J(boom)J", true, true},
    {R"J({{ undefined_var + 1 }})J", R"J('undefined_var' is undefined)J", true, false},
    {R"J({{ 'a' + 1 }})J", R"J(can only concatenate str (not "int") to str)J", true, false},
    {R"J({{ {'k': 'don\'t "q"', 'u': 'ü\u200d\t'} }})J", R"J({'k': 'don\'t "q"', 'u': 'ü\u200d\t'})J", false, false},
    {R"J({{ ('a',) }}{{ (1, 2) }})J", R"J(('a',)(1, 2))J", false, false},
    {R"J({% set y %}inner {{ 1 + 1 }}{% endset %}[{{ y }}])J", R"J([inner 2])J", false, false},
    {R"J({% filter upper %}abc{% endfilter %})J", R"J(ABC)J", false, false},
    {R"J({{ 'Hello World'|replace('o', '0') }}{{ 'abc'|upper }}{{ ' x '|trim }}{{ '42'|int + 1 }}{{ 'x'|first }})J", R"J(Hell0 W0rldABCx43x)J", false, false},
    {R"J({{ {'a': 'ü'}|tojson }}{{ {'a': 'ü'}|tojson(ensure_ascii=True) }}{{ {'a': [], 'b': {}}|tojson(indent=4) }})J", R"J({"a": "ü"}{"a": "\u00fc"}{
    "a": [],
    "b": {}
})J", false, false},
    {R"J({{ 'x' if false }}|{{ 'y' if true else 'z' }}|{{ 1 if 0 else 2 }})J", R"J(|y|2)J", false, false},
    {R"J({% for k, v in x|items %}{{ k }}={{ v }};{% endfor %})J", R"J(a=1;b=[1.5, "it's", None, True];)J", false, false},
    {R"J({%- set b = {
 0: 0,
 512: 128,
 16384: 1024
} -%}{%- set ns = namespace(interval=None) -%}{%- for k, v in b | dictsort -%}{%- if ns.interval is none and 300 <= k -%}{%- set ns.interval = v -%}{%- endif -%}{%- endfor -%}{{ ns.interval }} {{ b[16384] }} {{ b }} {{ b|tojson }})J", R"J(128 1024 {0: 0, 512: 128, 16384: 1024} {"0": 0, "512": 128, "16384": 1024})J", false, false},
    {R"J({%- macro py_type(t) -%}{%- if t == 'string' -%}str{%- elif t in ('number', 'integer') -%}int{%- else -%}Any{%- endif -%}{%- endmacro -%}{{ py_type('integer') }},{{ py_type('x') }})J", R"J(int,Any)J", false, false},
    {R"J({% for item in [{'type': 'function', 'n': 1}, {'type': 'x', 'n': 2}] if item.type == 'function' %}[{{ item.n }}{{ loop.length }}]{% endfor %})J", R"J([11])J", false, false},
    {R"J({{ '<TOOLCALL>[{{"name": "tool_name1"}}, ' }}{{- 'a}}b' -}})J", R"J(<TOOLCALL>[{{"name": "tool_name1"}}, a}}b)J", false, false},
    {R"J({%- set m = "first \
second" %}{{ m }})J", R"J(first second)J", false, false},
    {R"J({% set l = [{'a': 1}, {'a': 2}] %}{{ l[1] == {'a': 2} }}{{ l[-1] == l[0] }}{{ 'abcdefghijk'[-9:] }}{{ 'abc'[:-1] }})J", R"J(TrueFalsecdefghijkab)J", false, false},
    {R"J({%- set parts = 'x<think>r</think>c</think>d'.split('</think>') -%}{{ parts | first }}|{{ parts | last }}|{{ (parts|first).rstrip('\n').split('<think>') | last }})J", R"J(x<think>r|d|r)J", false, false},
    {R"J({% set c = [{'type': 'text', 'text': 'hi'}] %}{{ c is iterable and c is not mapping }}{% for i in c %}{{ i is mapping and i.type == 'text' }}{% endfor %})J", R"J(TrueTrue)J", false, false},
    {R"J({%- set ids = namespace(value=[]) %}{% for x in ['a','b','a'] %}{% if x not in ids.value %}{% set ids.value = ids.value + [x] %}{% endif %}{% endfor %}{{ ids.value }})J", R"J(['a', 'b'])J", false, false},
    {R"J({% for m in [1,2,3,4] %}{% for x in [1,2,3][m:] %}{% if x > 2 %}{%- break %}{% endif %}{{ x }}{% endfor %};{% endfor %})J", R"J(2;;;;)J", false, false},
    {R"J({{ (none | default('', true)).replace('/a', '').strip() }}|{{ ('  x/a ' | default('', true)).replace('/a', '').strip() }})J", R"J(|x)J", false, false},
    {R"J({% macro f(a, b=2) %}{{ a }}{{ b }}{% endmacro %}{% set out = f(1) %}[{{ out }}]{{ f(b=5, a=3) }})J", R"J([12]35)J", false, false},
    {R"J({{ '"' + 'k' + '": "' + 'v' + '"' }}{{ {'x': 1}.items() | list }})J", R"J("k": "v"[('x', 1)])J", false, false},
    {R"J({{ 'a' ~ none ~ 1 ~ [1] }}{{ [1,2] + [3] }}{{ (1,2) }}{{ 3 in [1,2,3] }}{{ 'b' in 'abc' }}{{ 'k' in {'k': 1} }})J", R"J(aNone1[1][1, 2, 3](1, 2)TrueTrueTrue)J", false, false},
    {R"J({{ 10 / 4 }} {{ 10 // 4 }} {{ 2 * 3.5 }} {{ 1e3 }} {{ 0.1 + 0.2 }} {{ 1_000 }} {{ -1 }} {{ 7 % 4 }})J", R"J(2.5 2 7.0 1000.0 0.30000000000000004 1000 -1 3)J", false, false},
    {R"J({{ 'x'|string is string }}{{ 1|string }}{{ [1]|string }}{{ none|string }}{{ 'abc'|length }}{{ 'ab c'|wordcount }})J", R"J(True1[1]None32)J", false, false},
    {R"J({%- for message in [{'role': 'user', 'content': 'a'}, {'role': 'assistant', 'content': 'b'}] %}
  {%- if message.role == 'user' %}
<u>{{ message.content }}
  {%- else %}
<a>{{ message.content }}
  {%- endif %}
{%- endfor %}
)J", R"J(<u>a<a>b)J", false, false},
    {R"J({% if true %}
    indented
{% endif %}
  {# c #}
after
    {{ 'expr' }}
{%+ if true %}x{% endif +%}
{%- if true %}y{% endif %})J", R"J(    indented
after
    expr
xy)J", false, false},
    {R"J({{ '%s=%s' % ('a', 1) }} {{ '%-5s|' % 'ab' }} {{ '%05d' % 42 }} {{ '%.2f' % 3.14159 }} {{ '%r' % 'q' }})J", R"J(a=1 ab   | 00042 3.14 'q')J", false, false},
    {R"J({{ ['b', 'a', 'C']|sort }}{{ ['b', 'a', 'C']|sort(case_sensitive=true) }}{{ [{'n': 2}, {'n': 1}]|sort(attribute='n')|map(attribute='n')|list }}{{ [3, 1]|max }}{{ [3, 1]|min }})J", R"J(['a', 'b', 'C']['C', 'a', 'b'][1, 2]31)J", false, false},
    {R"J({{ 'Hello'|center(11) }}|{{ 'ab'|indent(2, first=true) }}|{{ 'a b'.title() }}|{{ 'x'.upper() }}|{{ 'ABC'.lower() }})J", R"J(   Hello   |  ab|A B|X|abc)J", false, false},
    {R"J({{ 'a\nb\r\nc'.splitlines() }}{{ ' a  b '.split(' ') }}{{ 'a b c'.rsplit(' ', 1) }}{{ 'abc'.startswith(('x', 'a')) }}{{ 'abc'.endswith('bc') }})J", R"J(['a', 'b', 'c']['', 'a', '', 'b', '']['a b', 'c']TrueTrue)J", false, false},
    {R"J({{ {'a': {'b': [1, {'c': None}]}}|tojson(indent=2) }})J", R"J({
  "a": {
    "b": [
      1,
      {
        "c": null
      }
    ]
  }
})J", false, false},
    {R"J({{ x.b[1]|tojson }}{{ 'é\u2028'|tojson }}{{ '\u0001'|tojson }}{{ 3.0|tojson }}{{ [1.5e300, -2]|tojson }})J", R"J("it's""é ""\u0001"3.0[1.5e+300, -2])J", false, false},
    {R"J({% set d = {'z': 1, 'a': 2} %}{{ d|tojson(sort_keys=true) }}{{ d.keys()|list }}{{ d.values()|list }}{{ d|list }}{{ d|length }})J", R"J({"a": 2, "z": 1}['z', 'a'][1, 2]['z', 'a']2)J", false, false},
    {R"J({% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% else %}none{% endfor %}{% for z in [] %}x{% else %}empty{% endfor %})J", R"J(37empty)J", false, false},
    {R"J({{ range(3)|list }}{{ range(1, 10, 3)|list }}{% for i in range(2, -2, -1) %}{{ i }}{% endfor %}{{ range(5)|length }})J", R"J([0, 1, 2][1, 4, 7]210-15)J", false, false},
    {R"J({{ x.a is number }}{{ x.a is integer }}{{ 1.5 is float }}{{ x.b[3] is boolean }}{{ x.b[3] is true }}{{ x is defined }}{{ y is undefined }}{{ 4 is divisibleby 2 }}{{ 3 is odd }}{{ 'A' is upper }})J", R"J(TrueTrueTrueTrueTrueTrueTrueTrueTrueTrue)J", false, false},
    {R"J({{ x.get('a') }}{{ x['b'][0] }}{{ x.b.0 }}{{ x['zz'] is defined }}{{ x.zz.yy is defined }})J", R"J('dict object' has no attribute 'zz')J", true, false},
    {R"J({{ [1,2,3]|reject('odd')|list }}{{ [{'r': 'u'}, {'r': 'a'}]|selectattr('r', 'equalto', 'u')|list|length }}{{ [{'r': 'u'}, {'r': 'a'}]|rejectattr('r', 'eq', 'u')|map(attribute='r')|first }})J", R"J([2]1a)J", false, false},
    {R"J({{ 'a,b'.split(',')|join('|') }}{{ [1, 'x', none]|join(', ') }}{{ ['a','b']|join }})J", R"J(a|b1, x, Noneab)J", false, false},
    {R"J({{ ''.join(['a', 'b']) }}{{ '{} and {}'.format(1, 'two') }}{{ 'a-b'.replace('-', '+') }}{{ 'aXbXc'.split('X', 1) }})J", R"J(ab1 and twoa+b['a', 'bXc'])J", false, false},
    {R"J({% set s = 'héllo wörld' %}{{ s|length }}{{ s[1] }}{{ s[-1] }}{{ s|upper }}{{ s.find('w') }}{{ s|reverse }})J", R"J(11édHÉLLO WÖRLD6dlröw olléh)J", false, false},
    {R"J({{ undefined_thing }}|{{ undefined_thing|length }}|{{ undefined_thing|list }}|{% for x in undefined_thing %}x{% endfor %}|{{ undefined_thing is iterable }})J", R"J(|0|[]||True)J", false, false},
    {R"J({{ none.foo }})J", R"J()J", false, false},
    {R"J({{ undefined_thing.foo }})J", R"J('undefined_thing' is undefined)J", true, false},
    {R"J({{ undefined_thing() }})J", R"J('undefined_thing' is undefined)J", true, false},
    {R"J({{ [] | first }}x)J", R"J(x)J", false, false},
    {R"J({{ 1 < 'a' }})J", R"J('<' not supported between instances of 'int' and 'str')J", true, false},
    {R"J({{ {'a':1}|items|length }})J", R"J(object of type 'generator' has no len())J", true, false},
    {R"J({{ x.b[0] | int }}{{ '3.7'|float }}{{ 'x'|int(5) }}{{ 3.7|round }}{{ 3.14159|round(2) }}{{ -3|abs }})J", R"J(13.754.03.143)J", false, false},
    {R"J({% set t = ('a', 'b') %}{{ t[0] }}{{ t|length }}{{ t + ('c',) }}{% set a, b = t %}{{ b }}{{ a }})J", R"J(a2('a', 'b', 'c')ba)J", false, false},
    {R"J({{ 'x' if x.a == 1 else 'y' }}{{ x.a == 1 and 'yes' or 'no' }}{{ none or 'fallback' }}{{ 0 and 1 }}{{ '' or [] }})J", R"J(xyesfallback0[])J", false, false},
    {R"J({% filter trim %}  spaced  {% endfilter %}|{% set v | upper %}up{% endset %}{{ v }})J", R"J(spaced|UP)J", false, false},
    {R"J({{ strftime_now('%Y-%m-%d %H:%M:%S %a %j %p %I %y %e') }})J", R"J(2026-01-15 10:30:00 Thu 015 AM 10 26 15)J", false, false},
    {R"J({% macro r(n) %}{% if n > 0 %}({{ r(n - 1) }}){% endif %}{% endmacro %}{{ r(4) }})J", R"J((((()))))J", false, false},
    {R"J({{ loop }})J", R"J()J", false, false},
    {R"J({% for i in [1,2] %}{{ loop.cycle('odd', 'even') }}{{ loop.revindex }}{{ loop.revindex0 }}{% endfor %})J", R"J(odd21even10)J", false, false},
    {R"J({{ messages|default([])|length }}{{ 'abc' * 0 }}{{ [0] * 3 }})J", R"J(0[0, 0, 0])J", false, false},
    {R"J(a {% raw %}{{ not parsed }} {% if %}{% endraw %} b)J", R"J(a {{ not parsed }} {% if %} b)J", false, false},
    {R"J(x
  {% raw %}
  {{ y }}
  {% endraw %}
z)J", R"J(x

  {{ y }}
z)J", false, false},
    {R"J({%- raw -%}  {{ q }}  {%- endraw -%}  !)J", R"J({{ q }}!)J", false, false},
    {R"J({% raw %}{% endraw %}
next)J", R"J(next)J", false, false},
    {R"J({% macro box(title) %}[{{ title }}:{{ caller() }}]{% endmacro %}{% call box('t') %}inside {{ 1 + 1 }}{% endcall %})J", R"J([t:inside 2])J", false, false},
    {R"J({% macro each(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(x) each([1, 2]) %}<{{ x }}>{% endcall %})J", R"J(<1><2>)J", false, false},
};

Dict test_variables() {
  Dict x;
  x.set("a", Value(int64_t(1)));
  x.set("b", Value::list({Value(1.5), Value("it's"), Value::none(), Value(true)}));
  Dict vars;
  vars.set("x", Value::dict(std::move(x)));
  vars.set("s", Value("  Hello, World  "));
  return vars;
}

RenderOptions fixed_clock() {
  RenderOptions options;
  options.clock = [] { return DateTime{2026, 1, 15, 10, 30, 0}; };
  return options;
}

TEST(Jinja, MatchesPythonJinja2) {
  Dict vars = test_variables();
  RenderOptions options = fixed_clock();
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.source);
    if (!c.is_error) {
      std::string out;
      ASSERT_NO_THROW(out = Template(c.source).render(vars, options));
      EXPECT_EQ(out, c.expected);
      continue;
    }
    try {
      Template(c.source).render(vars, options);
      ADD_FAILURE() << "expected an error: " << c.expected;
    } catch (const TemplateError& e) {
      EXPECT_EQ(e.kind() == ErrorKind::Raised, c.raised);
      // Runtime messages follow Python's wording; raise_exception's verbatim.
      EXPECT_EQ(e.message(), c.expected);
    }
  }
}

TEST(Jinja, SyntaxErrorNamesTemplateAndLine) {
  try {
    Template("line one\n{% if x %}\n{{ x + }}\n{% endif %}", "my-template");
    FAIL() << "expected a syntax error";
  } catch (const TemplateError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Syntax);
    EXPECT_EQ(e.line(), 3);
    EXPECT_NE(std::string(e.what()).find("my-template"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("line 3"), std::string::npos);
  }
  EXPECT_THROW(Template("{% for x in y %}no end"), TemplateError);
  EXPECT_THROW(Template("{% unknowntag %}"), TemplateError);
}

TEST(Jinja, UnknownFilterFailsOnlyWhenReached) {
  // Jinja2 reports an unknown filter when the branch runs, not at parse time.
  Template t("{% if x %}{{ x|from_json }}{% endif %}ok");
  Dict vars;
  vars.set("x", Value(false));
  EXPECT_EQ(t.render(vars), "ok");
  vars.set("x", Value("{}"));
  try {
    t.render(vars);
    FAIL();
  } catch (const TemplateError& e) {
    EXPECT_EQ(e.message(), "No filter named 'from_json' found.");
  }
}

double seconds_to_fail(const std::string& source) {
  const double start = test::thread_cpu_seconds();
  try {
    Template(source).render(Dict{});
    ADD_FAILURE() << "expected a limit error for " << source;
  } catch (const TemplateError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Limit) << e.what();
  }
  return test::thread_cpu_seconds() - start;
}

TEST(Jinja, RunawayTemplatesErrorWithinASecond) {
  // A loop that would run for ever.
  EXPECT_LT(seconds_to_fail("{% for i in range(1000000000000) %}{% for j in range(1000000000000) %}{% endfor %}{% endfor %}"), 1.0);
  // Exponential recursion: 2^60 calls.
  EXPECT_LT(seconds_to_fail("{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}"), 1.0);
  // Unbounded recursion.
  EXPECT_LT(seconds_to_fail("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"), 1.0);
  // Output that doubles without end.
  EXPECT_LT(seconds_to_fail("{% set ns = namespace(s='x') %}{% for i in range(100) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}"), 1.0);
  EXPECT_LT(seconds_to_fail("{{ 'x' * 100000000000 }}"), 1.0);
}

TEST(Jinja, LimitsAreConfigurable) {
  RenderOptions options;
  options.limits.max_output_bytes = 10;
  EXPECT_THROW(Template("{{ 'abcdefghijkl' }}").render(Dict{}, options), TemplateError);
  EXPECT_EQ(Template("{{ 'abcdefghij' }}").render(Dict{}, options), "abcdefghij");
}

TEST(Jinja, GenerationTagRendersItsBody) {
  EXPECT_EQ(Template("a{% generation %}b{{ 1 }}{% endgeneration %}c").render(Dict{}), "ab1c");
}

TEST(Jinja, ReprFloatsLikePython) {
  // Python: repr(0.1) '0.1', repr(1e-05) '1e-05', repr(123.0) '123.0', repr(1e22) '1e+22'.
  EXPECT_EQ(repr_float(0.1), "0.1");
  EXPECT_EQ(repr_float(1e-05), "1e-05");
  EXPECT_EQ(repr_float(0.0001), "0.0001");
  EXPECT_EQ(repr_float(123.0), "123.0");
  EXPECT_EQ(repr_float(1e22), "1e+22");
  EXPECT_EQ(repr_float(1234567890123456.0), "1234567890123456.0");
}

}  // namespace
}  // namespace hearth::chat::jinja
