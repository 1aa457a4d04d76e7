// Pull references and the model hubs behind them: Hugging Face (and its
// mirrors, through the endpoint) and ModelScope. Listing a repository,
// choosing the GGUF file(s) a quant tag names, and downloading them into the
// store with resume, sha256 verification and an atomic rename.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/http.h"
#include "store/store.h"

namespace hearth::store {

// hf.co/OWNER/REPO[:TAG], hf.co/OWNER/REPO/PATH.gguf, huggingface.co/... the same,
// ms:OWNER/REPO[:TAG], ms:OWNER/REPO/PATH.gguf (ModelScope).
struct HubRef {
  std::string hub;  // "hf" or "ms"
  std::string owner, repo;
  std::string tag;   // quant tag, or empty
  std::string file;  // a path in the repo, or empty
  std::string repo_id() const { return owner + "/" + repo; }
  std::string display() const;  // "hf.co/owner/repo" or "ms:owner/repo"
  std::string name() const;     // the store name: display() plus ":TAG" or "/FILE"
};

// The reference, or nullopt when `text` is not one (a path or a store name).
std::optional<HubRef> parse_ref(const std::string& text);

// Where the hubs are and who the user is (the CLI reads HF_ENDPOINT,
// HF_TOKEN and MODELSCOPE_ENDPOINT and passes them here).
struct HubConfig {
  std::string hf_endpoint = "https://huggingface.co";
  std::string hf_token;
  std::string ms_endpoint = "https://modelscope.cn";
};

struct RepoFile {
  std::string path;    // in the repo
  uint64_t size = 0;
  std::string sha256;  // from the listing (LFS oid), or empty
};

// Every file of the repository (recursively). Throws a clear error for a
// missing (or private, without a token) repository.
std::vector<RepoFile> list_repo(const HubRef& ref, const HubConfig& config);

// The GGUF model files of a listing grouped into models (split parts
// together, in order), without multimodal projectors.
std::vector<std::vector<RepoFile>> gguf_models(const std::vector<RepoFile>& files);
// The quant tag in a file name ("Q4_K_M", "IQ4_XS", "BF16"), or "".
std::string quant_tag_of(const std::string& path);
// The model a reference names: its file, or the one model whose name carries
// the tag (case-insensitive), or the only one / Q4_K_M when there is no tag.
// Throws, listing what the repository has, when none or several match.
std::vector<RepoFile> choose_model(const HubRef& ref, const std::vector<RepoFile>& files);

// The multimodal projector to pair with a model file, chosen as llama.cpp's
// `-hf` does (common/download.cpp, find_best_sibling): a .gguf whose path
// contains "mmproj", in the model's folder or one above it; the deepest
// folder wins, then the quant bits in the name nearest the model's (a
// Q8_0 projector for a Q8_0 or Q4_K_M model over an F16 one, F16 for an F16
// model), then the first listed. nullopt when the repository has none.
std::optional<RepoFile> choose_mmproj(const std::string& model_path, const std::vector<RepoFile>& files);
// The bits of a file name's quant tag as llama.cpp reads them (the last
// -TAG or .TAG before .gguf and any split suffix; its first number):
// Q4_K_M 4, Q8_0 8, F16 and BF16 16, F32 32; 0 without one.
int quant_bits_of(const std::string& path);

// The URL that downloads a file, and the headers to send (authorization).
std::string file_url(const HubRef& ref, const std::string& path, const HubConfig& config);
std::vector<std::string> auth_headers(const HubRef& ref, const HubConfig& config);

// The expected sha256 of a file: the hub's x-linked-etag (Hugging Face LFS),
// else the listing's; empty when neither publishes one.
std::string expected_sha256(const HubRef& ref, const RepoFile& file, const HubConfig& config);

// Downloads one file to `dest`: into dest + ".partial", resuming what is
// there with a Range request, then checks size and sha256 (a mismatch deletes
// the partial file and throws) and renames it into place.
void download_file(const std::string& url, const std::vector<std::string>& headers, const std::string& dest,
                   uint64_t size, const std::string& sha256, const ProgressFn& progress);

// Pulls a reference into the store and records its manifest (named
// `name`, or ref.name()): the model's file(s), then the repository's
// multimodal projector when it has one (choose_mmproj), recorded as the
// manifest's mmproj. `on_file` is told of each file before it starts.
struct PullEvents {
  std::function<void(const RepoFile& file, int index, int count)> on_file;
  ProgressFn on_progress;
};
Manifest pull(const HubRef& ref, const HubConfig& config, const Store& store, const PullEvents& events,
              const std::string& name = "");

// Bytes [begin, begin + length) of a remote file (HTTP Range), and its total
// size. For reading a GGUF header without downloading the weights.
std::string fetch_range(const std::string& url, const std::vector<std::string>& headers, uint64_t begin,
                        uint64_t length, uint64_t* total_size);

}  // namespace hearth::store
