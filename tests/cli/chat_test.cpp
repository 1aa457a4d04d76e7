// `hearth run`'s chat, driven through a pseudo-terminal as a person types
// into it: two turns, /save, /clear, Ctrl-C during a reply, /bye. The model is
// the bundled stories260K with a small chat template given by
// --chat-template (no fixture model carries one), and every reply is checked
// against `hearth run --raw` on the prompt the template renders: the chat
// must produce exactly the continuation of the rendered conversation, which
// also checks that the KV cache kept between turns is right.
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>

#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/fixtures.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace hearth::test;

namespace {

// The template: the messages' texts one after another (stories260K only
// continues stories), the system prompt first.
constexpr const char* kTemplate = "{% for m in messages %}{{ m.content }}{% endfor %}";

// A child process on a pseudo-terminal.
class PtyProcess {
 public:
  explicit PtyProcess(const std::vector<std::string>& argv) {
    struct winsize ws {};
    ws.ws_row = 40;
    ws.ws_col = 200;
    pid_ = forkpty(&fd_, nullptr, nullptr, &ws);
    if (pid_ == 0) {
      setenv("TERM", "xterm", 1);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~PtyProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }
  bool started() const { return pid_ > 0; }

  // Types keys as a person would: not in the instant after a prompt is drawn.
  // libedit draws it before it puts the terminal in raw mode, and keys typed
  // in between meet the tty's cooked mode (echoed twice; Ctrl-C a SIGINT that
  // interrupts no read(); Ctrl-D an empty line instead of the end).
  void send(const std::string& keys) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    ASSERT_EQ(write(fd_, keys.data(), keys.size()), ssize_t(keys.size()));
  }

  // Reads until `needle` appears after `from` in everything read so far;
  // false after `seconds`.
  bool wait_for(const std::string& needle, size_t from, double seconds = 60) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (output_.find(needle, from) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      struct pollfd p {fd_, POLLIN, 0};
      if (poll(&p, 1, int(left.count())) <= 0) continue;
      char buf[4096];
      ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) return output_.find(needle, from) != std::string::npos;
      output_.append(buf, size_t(n));
    }
    return true;
  }
  const std::string& output() const { return output_; }

  // Waits for the exit status (-1 on timeout).
  int wait_exit(double seconds = 30) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      char buf[4096];
      struct pollfd p {fd_, POLLIN, 0};
      if (poll(&p, 1, 50) > 0) {
        ssize_t n = read(fd_, buf, sizeof buf);
        if (n > 0) output_.append(buf, size_t(n));
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  bool exited_ = false;
  std::string output_;
};

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// What `hearth run --raw` continues `text` with (greedy, n tokens). A chat
// reply is that text with leading whitespace dropped, as chat APIs give
// message content.
std::string raw_continuation(const std::string& text, int n) {
  const auto r = run_command(hearth_binary().string() + " run --raw -p " + quote(text) + " -n " + std::to_string(n) +
                             " --temp 0 2>/dev/null");
  EXPECT_EQ(r.status, 0);
  std::string out = r.out;
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string as_reply(std::string text) {
  text.erase(0, text.find_first_not_of(" \n"));
  return text;
}

json read_json(const fs::path& p) { return json::parse(read_text(p)); }

class Chat : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("hearth_chat_test_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    std::ofstream(dir_ / "story.jinja") << kTemplate;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<std::string> chat_command(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {hearth_binary().string(), "run", (source_dir() / "models/stories260K.gguf").string(),
                                     "--chat-template", (dir_ / "story.jinja").string(), "--temp", "0", "-n", "12",
                                     "--threads", "1"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }

  fs::path dir_;
};

TEST_F(Chat, TwoTurnsClearCtrlCAndBye) {
  PtyProcess chat(chat_command({"--ctx", "4096"}));
  ASSERT_TRUE(chat.started());
  ASSERT_TRUE(chat.wait_for(">>> ", 0)) << chat.output();

  // Turn 1: the reply continues the rendered conversation.
  size_t mark = chat.output().size();
  chat.send("Once upon a time\r");
  ASSERT_TRUE(chat.wait_for(">>> ", mark)) << chat.output();
  const std::string reply1 = as_reply(raw_continuation("Once upon a time", 12));
  ASSERT_FALSE(reply1.empty());
  EXPECT_NE(chat.output().find(reply1, mark), std::string::npos) << chat.output();

  // Turn 2, written over two lines with a trailing backslash.
  mark = chat.output().size();
  chat.send(" She wanted\\\r to play\r");
  ASSERT_TRUE(chat.wait_for("to play", mark)) << chat.output();
  ASSERT_TRUE(chat.wait_for(">>> ", chat.output().find("to play", mark))) << chat.output();
  const fs::path saved = dir_ / "conversation.json";
  mark = chat.output().size();
  chat.send("/save " + saved.string() + "\r");
  ASSERT_TRUE(chat.wait_for("Saved 4 messages", mark)) << chat.output();
  const json conversation = read_json(saved);
  ASSERT_EQ(conversation["messages"].size(), 4u) << conversation.dump();
  EXPECT_EQ(conversation["messages"][0]["role"], "user");
  EXPECT_EQ(conversation["messages"][1]["content"], reply1);
  EXPECT_EQ(conversation["messages"][2]["content"], " She wanted\n to play");
  const std::string turn2_prompt = "Once upon a time" + reply1 + " She wanted\n to play";
  const std::string reply2 = as_reply(raw_continuation(turn2_prompt, 12));
  EXPECT_EQ(conversation["messages"][3]["content"], reply2);
  EXPECT_NE(chat.output().find(reply2, mark > 200 ? mark - 200 : 0), std::string::npos);

  // /clear forgets the turns: the same first message gives the same first reply.
  mark = chat.output().size();
  chat.send("/clear\r");
  ASSERT_TRUE(chat.wait_for("Cleared", mark)) << chat.output();
  mark = chat.output().size();
  chat.send("/save " + saved.string() + "\r");
  ASSERT_TRUE(chat.wait_for("Saved 0 messages", mark)) << chat.output();

  // Ctrl-C during a reply stops the reply, not the program. The reply has
  // no limit (until the 4096-token context fills), so it is still running.
  mark = chat.output().size();
  chat.send("/set num_predict -1\r");
  ASSERT_TRUE(chat.wait_for("Set 'num_predict'", mark)) << chat.output();
  mark = chat.output().size();
  chat.send("Once upon a time\r");
  ASSERT_TRUE(chat.wait_for(reply1.substr(0, 20), mark)) << chat.output();
  chat.send("\x03");
  ASSERT_TRUE(chat.wait_for("(stopped)", mark)) << chat.output();
  ASSERT_TRUE(chat.wait_for(">>> ", chat.output().find("(stopped)", mark))) << chat.output();

  // Ctrl-C at the prompt only clears the line.
  mark = chat.output().size();
  chat.send("half a line\x03");
  ASSERT_TRUE(chat.wait_for("Use Ctrl-D or /bye to exit.", mark)) << chat.output();

  mark = chat.output().size();
  chat.send("/bye\r");
  EXPECT_EQ(chat.wait_exit(), 0) << chat.output();
}

TEST_F(Chat, SystemPromptSettingsAndLoad) {
  const fs::path saved = dir_ / "in.json";
  std::ofstream(saved) << R"({"messages": [{"role": "system", "content": "Once upon a time"},
                                           {"role": "user", "content": " there was"}]})";
  PtyProcess chat(chat_command());
  ASSERT_TRUE(chat.started());
  ASSERT_TRUE(chat.wait_for(">>> ", 0)) << chat.output();
  size_t mark = chat.output().size();
  chat.send("/load " + saved.string() + "\r");
  ASSERT_TRUE(chat.wait_for("Loaded 1 messages", mark)) << chat.output();
  mark = chat.output().size();
  chat.send("/set temperature 0.5\r/set top_k 7\r/set bogus 1\r/show\r");
  ASSERT_TRUE(chat.wait_for("template:", mark)) << chat.output();
  EXPECT_NE(chat.output().find("Unknown setting 'bogus'", mark), std::string::npos);
  EXPECT_NE(chat.output().find("system: Once upon a time", mark), std::string::npos) << chat.output();
  EXPECT_NE(chat.output().find("temperature 0.5 top_k 7", mark), std::string::npos) << chat.output();
  // A multi-line message between """ marks, sent greedily.
  mark = chat.output().size();
  chat.send("/set temperature 0\r\"\"\" a little\r girl\"\"\"\r");
  ASSERT_TRUE(chat.wait_for("girl\"\"\"", mark)) << chat.output();
  ASSERT_TRUE(chat.wait_for(">>> ", chat.output().find("girl\"\"\"", mark))) << chat.output();
  const fs::path out = dir_ / "out.json";
  mark = chat.output().size();
  chat.send("/save " + out.string() + "\r");
  ASSERT_TRUE(chat.wait_for("Saved 3 messages", mark)) << chat.output();
  const json conversation = read_json(out);
  EXPECT_EQ(conversation["system"], "Once upon a time");
  EXPECT_EQ(conversation["messages"][1]["content"], " a little\n girl");
  EXPECT_EQ(conversation["messages"][2]["content"], as_reply(raw_continuation("Once upon a time there was a little\n girl", 12)));
  // Up recalls the last line (the /save): Enter runs it again.
  mark = chat.output().size();
  chat.send("\x1b[A\r");
  ASSERT_TRUE(chat.wait_for("Saved 3 messages", mark)) << chat.output();
  chat.send("\x04");  // Ctrl-D at an empty prompt leaves
  EXPECT_EQ(chat.wait_exit(), 0) << chat.output();
}

TEST_F(Chat, PromptIsOneUserTurnAndPipedStdinIsAPrompt) {
  // -p with a template renders one user turn (here: the system prompt, then the text).
  const std::string base = hearth_binary().string() + " run --chat-template " + (dir_ / "story.jinja").string() +
                           " --temp 0 -n 12 ";
  const auto with_p = run_command(base + "--system 'Once upon' -p ' a time' 2>/dev/null");
  ASSERT_EQ(with_p.status, 0);
  EXPECT_EQ(with_p.out, as_reply(raw_continuation("Once upon a time", 12)) + "\n");
  const auto piped = run_command("printf ' a time' | " + base + "--system 'Once upon' 2>/dev/null");
  ASSERT_EQ(piped.status, 0);
  EXPECT_EQ(piped.out, with_p.out);
}

TEST_F(Chat, ReasoningIsShownDimmedAndApart) {
  // A template whose generation prompt opens <think>: the whole reply is
  // reasoning, shown dimmed on a terminal and on stderr when piped.
  std::ofstream(dir_ / "think.jinja") << "{% for m in messages %}{{ m.content }}{% endfor %}<think>";
  const std::vector<std::string> argv = {hearth_binary().string(), "run", "--chat-template",
                                         (dir_ / "think.jinja").string(), "--temp", "0", "-n", "8", "-p",
                                         "Once upon a time"};
  PtyProcess tty(argv);
  ASSERT_TRUE(tty.started());
  EXPECT_EQ(tty.wait_exit(), 0);
  EXPECT_NE(tty.output().find("\x1b[2m"), std::string::npos) << tty.output();
  EXPECT_NE(tty.output().find("\x1b[0m"), std::string::npos) << tty.output();
  std::string command;
  for (const auto& a : argv) command += quote(a) + " ";
  const auto piped = run_command(command + "2>/dev/null");
  ASSERT_EQ(piped.status, 0);
  EXPECT_EQ(piped.out, "\n");  // the answer is empty; the reasoning went to stderr
}

TEST_F(Chat, ModelWithoutTemplateOnATerminalSaysWhatToDo) {
  PtyProcess chat({hearth_binary().string(), "run"});
  ASSERT_TRUE(chat.started());
  EXPECT_EQ(chat.wait_exit(), 1);
  EXPECT_NE(chat.output().find("has no chat template"), std::string::npos) << chat.output();
}

}  // namespace
