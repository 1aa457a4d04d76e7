// Recursive-descent parser following the grammar and operator precedence of
// jinja2/parser.py.
#include <initializer_list>

#include <fmt/format.h>

#include "chat/jinja/ast.h"
#include "chat/jinja/error.h"
#include "chat/jinja/lexer.h"

namespace hearth::chat::jinja {
namespace {

// Whether an expression or statement list reads variable `name` anywhere
// (jinja2's find_undeclared, which decides a macro's varargs/kwargs).
bool reads_name(const Expr* e, std::string_view name);

bool reads_name(const Body& body, std::string_view name) {
  for (const auto& s : body) {
    if (reads_name(s->expr.get(), name) || reads_name(s->condition.get(), name)) return true;
    if (reads_name(s->body, name) || reads_name(s->else_body, name)) return true;
    for (const auto& p : s->params)
      if (reads_name(p.second.get(), name)) return true;
    for (const auto& f : s->filters)
      if (reads_name(f.get(), name)) return true;
  }
  return false;
}

bool reads_name(const Expr* e, std::string_view name) {
  if (!e) return false;
  if (e->kind == ExprKind::Name && e->name == name) return true;
  if (reads_name(e->subject.get(), name) || reads_name(e->right.get(), name) || reads_name(e->third.get(), name))
    return true;
  for (const auto& a : e->args)
    if (reads_name(a.get(), name)) return true;
  for (const auto& kw : e->kwargs)
    if (reads_name(kw.second.get(), name)) return true;
  return false;
}

class Parser {
 public:
  Parser(std::vector<Token> tokens, const std::string& name) : tokens_(std::move(tokens)), name_(name) {}

  Body parse_all() {
    Body body = subparse({});
    if (cur().type != TokenType::Eof) fail("unexpected tag");
    return body;
  }

 private:
  const Token& cur() const { return tokens_[pos_]; }
  const Token& peek(size_t ahead = 1) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }
  void advance() {
    if (pos_ + 1 < tokens_.size()) ++pos_;
  }
  bool is_op(const char* op) const { return cur().type == TokenType::Operator && cur().text == op; }
  bool is_name(const char* n) const { return cur().type == TokenType::Name && cur().text == n; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    advance();
    return true;
  }
  bool skip_name(const char* n) {
    if (!is_name(n)) return false;
    advance();
    return true;
  }

  [[noreturn]] void fail(const std::string& message) const {
    throw TemplateError(ErrorKind::Syntax, message, name_, cur().line);
  }

  std::string describe(const Token& t) const {
    switch (t.type) {
      case TokenType::Eof: return "end of template";
      case TokenType::BlockEnd: return "end of statement block";
      case TokenType::VariableEnd: return "end of print statement";
      case TokenType::String: return "string";
      default: return "'" + t.text + "'";
    }
  }

  void expect_op(const char* op) {
    if (!skip_op(op)) fail(fmt::format("expected '{}', got {}", op, describe(cur())));
  }
  std::string expect_name() {
    if (cur().type != TokenType::Name) fail(fmt::format("expected a name, got {}", describe(cur())));
    std::string n = cur().text;
    advance();
    return n;
  }
  void expect_block_end() {
    if (cur().type != TokenType::BlockEnd) fail(fmt::format("expected end of statement block, got {}", describe(cur())));
    advance();
  }

  ExprPtr make(ExprKind kind, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    return e;
  }

  // Parses statements until a block tag whose name is in `end_names`; leaves
  // the stream on that name (after the BlockBegin).
  Body subparse(std::initializer_list<const char*> end_names) {
    Body body;
    for (;;) {
      const Token& t = cur();
      if (t.type == TokenType::Eof) {
        if (end_names.size() != 0)
          fail(fmt::format("unexpected end of template, expected '{}'", *end_names.begin()));
        return body;
      }
      if (t.type == TokenType::Data) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::Text;
        s->line = t.line;
        s->text = t.text;
        body.push_back(std::move(s));
        advance();
      } else if (t.type == TokenType::VariableBegin) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::Output;
        s->line = t.line;
        advance();
        s->expr = parse_tuple(true);
        if (cur().type != TokenType::VariableEnd) fail(fmt::format("expected end of print statement, got {}", describe(cur())));
        advance();
        body.push_back(std::move(s));
      } else if (t.type == TokenType::BlockBegin) {
        advance();
        if (cur().type == TokenType::Name)
          for (const char* end : end_names)
            if (cur().text == end) return body;
        body.push_back(parse_statement());
      } else {
        fail("unexpected token");
      }
    }
  }

  // Nesting guard: deeply nested input must fail cleanly, not overflow the stack.
  struct DepthGuard {
    Parser& p;
    explicit DepthGuard(Parser& parser) : p(parser) {
      if (++p.depth_ > kMaxNesting) p.fail("template nesting is too deep");
    }
    ~DepthGuard() { --p.depth_; }
  };
  static constexpr int kMaxNesting = 100;

  StmtPtr parse_statement() {
    DepthGuard guard(*this);
    if (cur().type != TokenType::Name) fail("tag name expected");
    std::string tag = cur().text;
    int line = cur().line;
    auto s = std::make_unique<Stmt>();
    s->line = line;
    advance();
    if (tag == "if") {
      parse_if_rest(*s);
    } else if (tag == "for") {
      s->kind = StmtKind::For;
      s->targets = parse_targets();
      if (!skip_name("in")) fail("expected 'in' in for loop");
      s->expr = parse_tuple(false, true);
      if (skip_name("if")) s->condition = parse_expression(false);
      s->recursive = skip_name("recursive");
      expect_block_end();
      s->body = subparse({"endfor", "else"});
      if (skip_name("else")) {
        expect_block_end();
        s->else_body = subparse({"endfor"});
      }
      advance();
      expect_block_end();
    } else if (tag == "set") {
      std::vector<std::string> targets;
      std::string first = expect_name();
      if (skip_op(".")) {
        s->attr = expect_name();
        targets.push_back(first);
      } else {
        targets.push_back(first);
        while (skip_op(",")) targets.push_back(expect_name());
      }
      s->targets = std::move(targets);
      if (skip_op("=")) {
        s->kind = StmtKind::Set;
        s->expr = parse_tuple(true);
        expect_block_end();
      } else {
        s->kind = StmtKind::SetBlock;
        while (skip_op("|")) s->filters.push_back(parse_filter(nullptr));
        expect_block_end();
        s->body = subparse({"endset"});
        advance();
        expect_block_end();
      }
    } else if (tag == "macro") {
      s->kind = StmtKind::Macro;
      s->name = expect_name();
      expect_op("(");
      while (!is_op(")")) {
        std::string param = expect_name();
        ExprPtr def;
        if (skip_op("=")) def = parse_expression(true);
        s->params.emplace_back(std::move(param), std::move(def));
        if (!skip_op(",")) break;
      }
      expect_op(")");
      expect_block_end();
      s->body = subparse({"endmacro"});
      s->catch_varargs = reads_name(s->body, "varargs");
      s->catch_kwargs = reads_name(s->body, "kwargs");
      advance();
      if (cur().type == TokenType::Name) advance();
      expect_block_end();
    } else if (tag == "filter") {
      s->kind = StmtKind::FilterBlock;
      s->filters.push_back(parse_filter(nullptr));
      while (skip_op("|")) s->filters.push_back(parse_filter(nullptr));
      expect_block_end();
      s->body = subparse({"endfilter"});
      advance();
      expect_block_end();
    } else if (tag == "break" || tag == "continue") {
      s->kind = tag == "break" ? StmtKind::Break : StmtKind::Continue;
      expect_block_end();
    } else if (tag == "call") {
      s->kind = StmtKind::CallBlock;
      if (skip_op("(")) {
        while (!is_op(")")) {
          std::string param = expect_name();
          ExprPtr def;
          if (skip_op("=")) def = parse_expression(true);
          s->params.emplace_back(std::move(param), std::move(def));
          if (!skip_op(",")) break;
        }
        expect_op(")");
      }
      s->expr = parse_expression(true);
      if (s->expr->kind != ExprKind::Call) fail("expected a call after {% call %}");
      expect_block_end();
      s->body = subparse({"endcall"});
      advance();
      expect_block_end();
    } else if (tag == "generation") {
      s->kind = StmtKind::Generation;
      expect_block_end();
      s->body = subparse({"endgeneration"});
      advance();
      expect_block_end();
    } else {
      fail(fmt::format("Encountered unknown tag '{}'.", tag));
    }
    return s;
  }

  void parse_if_rest(Stmt& s) {
    s.kind = StmtKind::If;
    s.expr = parse_tuple(false);
    expect_block_end();
    s.body = subparse({"elif", "else", "endif"});
    if (skip_name("elif")) {
      auto nested = std::make_unique<Stmt>();
      nested->line = cur().line;
      parse_if_rest(*nested);
      s.else_body.push_back(std::move(nested));
      return;  // the nested if consumed endif
    }
    if (skip_name("else")) {
      expect_block_end();
      s.else_body = subparse({"endif"});
    }
    if (!skip_name("endif")) fail("expected 'endif'");
    expect_block_end();
  }

  std::vector<std::string> parse_targets() {
    std::vector<std::string> names;
    bool paren = skip_op("(");
    names.push_back(expect_name());
    while (skip_op(",")) {
      if (paren && is_op(")")) break;
      names.push_back(expect_name());
    }
    if (paren) expect_op(")");
    return names;
  }

  bool is_tuple_end(bool for_iter) const {
    const Token& t = cur();
    if (t.type == TokenType::VariableEnd || t.type == TokenType::BlockEnd || t.type == TokenType::Eof) return true;
    if (t.type == TokenType::Operator && (t.text == ")" || t.text == "]" || t.text == "}")) return true;
    if (for_iter && t.type == TokenType::Name && (t.text == "if" || t.text == "recursive")) return true;
    return false;
  }

  ExprPtr parse_tuple(bool with_condexpr, bool for_iter = false, bool explicit_parens = false) {
    int line = cur().line;
    std::vector<ExprPtr> items;
    bool saw_comma = false;
    for (;;) {
      if (!items.empty()) {
        if (!skip_op(",")) break;
        saw_comma = true;
        if (is_tuple_end(for_iter)) break;
      }
      if (explicit_parens && items.empty() && is_op(")")) break;
      items.push_back(parse_expression(with_condexpr));
    }
    if (!saw_comma && items.size() == 1) return std::move(items[0]);
    if (!explicit_parens && items.empty()) fail(fmt::format("expected an expression, got {}", describe(cur())));
    auto e = make(ExprKind::Tuple, line);
    e->args = std::move(items);
    return e;
  }

  ExprPtr parse_expression(bool with_condexpr) {
    if (!with_condexpr) return parse_or();
    ExprPtr expr = parse_or();
    while (is_name("if")) {
      int line = cur().line;
      advance();
      ExprPtr cond = parse_or();
      ExprPtr other;
      if (skip_name("else")) other = parse_expression(true);
      auto e = make(ExprKind::Cond, line);
      e->subject = std::move(expr);
      e->right = std::move(cond);
      e->third = std::move(other);
      expr = std::move(e);
    }
    return expr;
  }

  ExprPtr binary(ExprKind kind, ExprPtr left, ExprPtr right, int line, std::string op = {}) {
    auto e = make(kind, line);
    e->subject = std::move(left);
    e->right = std::move(right);
    e->name = std::move(op);
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      int line = cur().line;
      advance();
      left = binary(ExprKind::Or, std::move(left), parse_and(), line);
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      int line = cur().line;
      advance();
      left = binary(ExprKind::And, std::move(left), parse_not(), line);
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      int line = cur().line;
      advance();
      auto e = make(ExprKind::Not, line);
      e->subject = parse_not();
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    int line = cur().line;
    ExprPtr first = parse_math1();
    std::vector<ExprPtr> operands;
    std::vector<std::string> ops;
    for (;;) {
      std::string op;
      if (cur().type == TokenType::Operator &&
          (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == "<=" ||
           cur().text == ">" || cur().text == ">=")) {
        op = cur().text;
        advance();
      } else if (is_name("in")) {
        op = "in";
        advance();
      } else if (is_name("not") && peek().type == TokenType::Name && peek().text == "in") {
        op = "notin";
        advance();
        advance();
      } else {
        break;
      }
      ops.push_back(op);
      operands.push_back(parse_math1());
    }
    if (ops.empty()) return first;
    auto e = make(ExprKind::Compare, line);
    e->args.push_back(std::move(first));
    for (auto& o : operands) e->args.push_back(std::move(o));
    e->ops = std::move(ops);
    return e;
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      std::string op = cur().text;
      int line = cur().line;
      advance();
      left = binary(ExprKind::Binary, std::move(left), parse_concat(), line, op);
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr left = parse_math2();
    while (is_op("~")) {
      int line = cur().line;
      advance();
      left = binary(ExprKind::Binary, std::move(left), parse_math2(), line, "~");
    }
    return left;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      std::string op = cur().text;
      int line = cur().line;
      advance();
      left = binary(ExprKind::Binary, std::move(left), parse_pow(), line, op);
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
      int line = cur().line;
      advance();
      left = binary(ExprKind::Binary, std::move(left), parse_unary(true), line, "**");
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    int line = cur().line;
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      ExprKind kind = is_op("-") ? ExprKind::Neg : ExprKind::Pos;
      advance();
      node = make(kind, line);
      node->subject = parse_unary(false);
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    int line = t.line;
    if (t.type == TokenType::Name) {
      auto e = make(ExprKind::Literal, line);
      if (t.text == "true" || t.text == "True") {
        e->literal = Value(true);
      } else if (t.text == "false" || t.text == "False") {
        e->literal = Value(false);
      } else if (t.text == "none" || t.text == "None") {
        e->literal = Value::none();
      } else {
        e->kind = ExprKind::Name;
        e->name = t.text;
      }
      advance();
      return e;
    }
    if (t.type == TokenType::String) {
      std::string s = t.text;
      advance();
      while (cur().type == TokenType::String) {  // adjacent literals concatenate
        s += cur().text;
        advance();
      }
      auto e = make(ExprKind::Literal, line);
      e->literal = Value(std::move(s));
      return e;
    }
    if (t.type == TokenType::Integer || t.type == TokenType::Float) {
      auto e = make(ExprKind::Literal, line);
      e->literal = t.type == TokenType::Integer ? Value(t.int_value) : Value(t.float_value);
      advance();
      return e;
    }
    if (skip_op("(")) {
      ExprPtr inner = parse_tuple(true, false, true);
      expect_op(")");
      return inner;
    }
    if (skip_op("[")) {
      auto e = make(ExprKind::List, line);
      while (!is_op("]")) {
        e->args.push_back(parse_expression(true));
        if (!skip_op(",")) break;
      }
      expect_op("]");
      return e;
    }
    if (skip_op("{")) {
      auto e = make(ExprKind::DictLit, line);
      while (!is_op("}")) {
        e->args.push_back(parse_expression(true));
        expect_op(":");
        e->args.push_back(parse_expression(true));
        if (!skip_op(",")) break;
      }
      expect_op("}");
      return e;
    }
    fail(fmt::format("unexpected {}", describe(t)));
  }

  ExprPtr parse_postfix(ExprPtr node) {
    for (;;) {
      int line = cur().line;
      if (is_op(".")) {
        advance();
        if (cur().type == TokenType::Integer) {
          auto e = make(ExprKind::Item, line);
          e->subject = std::move(node);
          e->right = make(ExprKind::Literal, line);
          e->right->literal = Value(cur().int_value);
          advance();
          node = std::move(e);
        } else {
          auto e = make(ExprKind::Attr, line);
          e->subject = std::move(node);
          e->name = expect_name();
          node = std::move(e);
        }
      } else if (is_op("[")) {
        advance();
        node = parse_subscript(std::move(node), line);
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr subject, int line) {
    ExprPtr parts[3];
    bool is_slice = false;
    if (!is_op(":")) parts[0] = parse_expression(true);
    if (skip_op(":")) {
      is_slice = true;
      if (!is_op(":") && !is_op("]")) parts[1] = parse_expression(true);
      if (skip_op(":"))
        if (!is_op("]")) parts[2] = parse_expression(true);
    }
    expect_op("]");
    auto e = make(is_slice ? ExprKind::Slice : ExprKind::Item, line);
    e->subject = std::move(subject);
    if (is_slice) {
      for (auto& p : parts) e->args.push_back(std::move(p));
    } else {
      e->right = std::move(parts[0]);
    }
    return e;
  }

  void parse_call_args(Expr& e) {
    expect_op("(");
    while (!is_op(")")) {
      if (cur().type == TokenType::Name && peek().type == TokenType::Operator && peek().text == "=") {
        std::string key = cur().text;
        advance();
        advance();
        e.kwargs.emplace_back(std::move(key), parse_expression(true));
      } else {
        if (!e.kwargs.empty()) fail("positional argument after keyword argument");
        e.args.push_back(parse_expression(true));
      }
      if (!skip_op(",")) break;
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr subject) {
    auto e = make(ExprKind::Call, cur().line);
    e->subject = std::move(subject);
    parse_call_args(*e);
    return e;
  }

  ExprPtr parse_filter(ExprPtr subject) {
    auto e = make(ExprKind::Filter, cur().line);
    e->subject = std::move(subject);
    e->name = expect_name();
    while (is_op(".")) {
      advance();
      e->name += '.';
      e->name += expect_name();
    }
    if (is_op("(")) parse_call_args(*e);
    return e;
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    for (;;) {
      if (is_op("|")) {
        advance();
        node = parse_filter(std::move(node));
      } else if (is_name("is")) {
        auto e = make(ExprKind::Test, cur().line);
        advance();
        if (skip_name("not")) e->negated = true;
        e->name = expect_name();
        while (is_op(".")) {
          advance();
          e->name += '.';
      e->name += expect_name();
        }
        e->subject = std::move(node);
        const Token& t = cur();
        if (is_op("(")) {
          parse_call_args(*e);
        } else if ((t.type == TokenType::Name || t.type == TokenType::String || t.type == TokenType::Integer ||
                    t.type == TokenType::Float || is_op("[") || is_op("{")) &&
                   !(t.type == TokenType::Name && (t.text == "else" || t.text == "or" || t.text == "and"))) {
          if (is_name("is")) fail("You cannot chain multiple tests with is");
          e->args.push_back(parse_postfix(parse_primary()));
        }
        node = std::move(e);
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  std::vector<Token> tokens_;
  const std::string& name_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

Body parse_template(std::string_view source, const std::string& template_name) {
  return Parser(tokenize(source, template_name), template_name).parse_all();
}

}  // namespace hearth::chat::jinja
