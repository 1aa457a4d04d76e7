namespace hearth::server { class Server; }
#include <httplib.h>
namespace hearth::server { void add_ollama_routes(httplib::Server&, Server&) {} }
