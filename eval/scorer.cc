#include "eval/scorer.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <limits>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "model/causal_lm.h"

namespace qgrid::eval {
namespace {

using model::CausalLM;
using model::KVCache;

at::Tensor IdsTensor(const std::vector<std::vector<int>>& rows, int64_t width,
                     const at::Device& device) {
  std::vector<int64_t> flat(rows.size() * width, 0);
  for (size_t r = 0; r < rows.size(); ++r)
    for (size_t t = 0; t < rows[r].size() && static_cast<int64_t>(t) < width;
         ++t)
      flat[r * width + t] = rows[r][t];
  return at::from_blob(flat.data(), {static_cast<int64_t>(rows.size()), width},
                       at::kLong)
      .clone()
      .to(device);
}

// A forward step on top of `cache` with explicit positions and key
// validity, so that ragged rows can share one batch: `past_valid` [B, P]
// says which cached positions are real for each row (undefined = all),
// new tokens start at position `start[b]` and are right-padded. Real
// queries only see real keys; padded queries see at least themselves (no
// all -inf rows).
at::Tensor Step(const CausalLM& lm, const at::Tensor& ids,
                const at::Tensor& past_valid, const std::vector<int64_t>& start,
                KVCache* cache) {
  const int64_t B = ids.size(0), T = ids.size(1);
  const int64_t P = cache->length();
  auto dev = ids.device();
  auto bool_opts = at::TensorOptions().dtype(at::kBool).device(dev);
  at::Tensor start_t =
      at::from_blob(const_cast<int64_t*>(start.data()), {B}, at::kLong)
          .clone()
          .to(dev);
  at::Tensor positions =
      start_t.unsqueeze(1) + at::arange(T, ids.options()).unsqueeze(0);
  at::Tensor causal = at::ones({T, T}, bool_opts).tril();
  at::Tensor allowed;
  if (P > 0) {
    at::Tensor pv = past_valid.defined() ? past_valid.to(at::kBool)
                                         : at::ones({B, P}, bool_opts);
    allowed = at::cat({pv.unsqueeze(1).expand({B, T, P}),
                       causal.unsqueeze(0).expand({B, T, T})},
                      2);
  } else {
    allowed = causal.unsqueeze(0).expand({B, T, T});
  }
  // float32 additive mask with the lowest finite value (the model's
  // AttentionContext contract, as Hugging Face uses finfo.min).
  auto mask_opts = at::TensorOptions().dtype(at::kFloat).device(dev);
  at::Tensor mask = at::zeros({B, T, P + T}, mask_opts)
                        .masked_fill(allowed.logical_not(),
                                     std::numeric_limits<float>::lowest())
                        .unsqueeze(1);
  model::AttentionContext ctx;
  ctx.positions = positions;
  ctx.mask = mask;
  ctx.past_length = P;
  at::Tensor h = lm.Embed(ids);
  for (int i = 0; i < lm.num_layers(); ++i)
    h = lm.LayerForward(i, h, ctx, cache);
  return lm.Head(h);  // float32 [B, T, V]
}

// Rows per forward such that the attention scores of one layer (rows x
// heads x T x T float32) stay within 16 MiB. Measured (bench_eval_length
// _sweep, stories260K, 8 heads): 8 rows x 512 tokens (64 MiB of scores)
// cost ~2.4 s of CPU, 2 rows x 512 (16 MiB) ~0.06 s -- 10x more per token
// once the freshly allocated score/probability tensors pass ~32 MiB, where
// page faults on the new memory dominate (perf: ~30% of the time in the
// kernel's page-fault path, first touch in sgemm's beta pass). The cause was
// glibc returning every block above 32 MiB to the kernel on free, fixed for
// the whole process by common/malloc_tuning.h; the cap stays as a bound on
// activation memory per forward.
int64_t RowsWithinAttentionBudget(int64_t heads, int64_t T) {
  constexpr int64_t kBudget = int64_t{16} << 20;
  const int64_t per_row = std::max<int64_t>(1, heads * T * T * 4);
  return std::max<int64_t>(1, kBudget / per_row);
}

std::vector<int> Tail(const std::vector<int>& v, size_t n) {
  if (v.size() <= n) return v;
  return std::vector<int>(v.end() - n, v.end());
}

}  // namespace

CausalLMScorer::CausalLMScorer(const CausalLM& lm, const ScorerOptions& opts)
    : lm_(lm), opts_(opts) {
  if (opts_.max_length <= 0)
    opts_.max_length = lm.config().max_position_embeddings;
  if (opts_.batch_size < 1) opts_.batch_size = 1;
}
CausalLMScorer::~CausalLMScorer() = default;

absl::StatusOr<std::unique_ptr<CausalLMScorer>> CausalLMScorer::Create(
    const CausalLM& lm, const ScorerOptions& opts) {
  if (lm.tokenizer() == nullptr)
    return absl::FailedPreconditionError(
        "the model has no tokenizer; scoring text needs one");
  return std::unique_ptr<CausalLMScorer>(new CausalLMScorer(lm, opts));
}

namespace {
int PrefixToken(const model::Tokenizer& tok) {
  return tok.bos_id() >= 0 ? tok.bos_id() : tok.eos_id();
}
}  // namespace

std::vector<int> CausalLMScorer::EncodeText(const std::string& text) const {
  const model::Tokenizer& tok = *lm_.tokenizer();
  bool special = opts_.special_tokens;
  // lm-eval: no special tokens when the text already starts with BOS's text.
  if (special && tok.bos_id() >= 0) {
    const std::string bos = tok.IdToPiece(tok.bos_id());
    if (!bos.empty() && text.compare(0, bos.size(), bos) == 0) special = false;
  }
  std::vector<int> ids = tok.Encode(text, special);
  if (opts_.add_bos && tok.bos_id() >= 0 &&
      (ids.empty() || ids[0] != tok.bos_id()))
    ids.insert(ids.begin(), tok.bos_id());
  return ids;
}

std::pair<std::vector<int>, std::vector<int>> CausalLMScorer::EncodePair(
    const std::string& context, const std::string& continuation) const {
  const model::Tokenizer& tok = *lm_.tokenizer();
  std::vector<int> ctx, cont;
  if (context.empty()) {
    // lm-eval: an empty context is the prefix token alone.
    ctx = {PrefixToken(tok)};
    cont = tok.Encode(continuation, false);
    return {ctx, cont};
  }
  // lm-eval's _encode_pair: context whitespace moves to the continuation
  // (Python's rstrip: every trailing whitespace character).
  size_t end = context.size();
  while (end > 0 && std::isspace(static_cast<unsigned char>(context[end - 1])))
    --end;
  std::string c = context.substr(0, end);
  std::string k = context.substr(end) + continuation;
  std::vector<int> whole = EncodeText(c + k);
  ctx = EncodeText(c);
  if (ctx.size() <= whole.size())
    cont.assign(whole.begin() + ctx.size(), whole.end());
  if (ctx.empty()) ctx = {PrefixToken(tok)};
  return {ctx, cont};
}

absl::StatusOr<std::vector<LoglikelihoodResult>> CausalLMScorer::Loglikelihood(
    const std::vector<LoglikelihoodRequest>& requests,
    const ProgressFn& progress) {
  const int64_t n = static_cast<int64_t>(requests.size());
  std::vector<LoglikelihoodResult> out(n);
  std::vector<std::pair<std::vector<int>, std::vector<int>>> enc(n);
  for (int64_t i = 0; i < n; ++i)
    enc[i] = EncodePair(requests[i].context, requests[i].continuation);
  const int64_t L = opts_.max_length;
  const at::Device dev = lm_.device();
  int64_t done = 0;
  auto report = [&](int64_t k) {
    done += k;
    if (progress) progress(done, n);
  };
  // Scores continuation tokens from log-probs rows: row t predicts token t.
  auto score = [&](int64_t req, const at::Tensor& logprobs_rows,
                   const std::vector<int>& targets) {
    // logprobs_rows [len(targets), V] float on CPU.
    LoglikelihoodResult r;
    r.num_tokens = static_cast<int64_t>(targets.size());
    r.is_greedy = true;
    auto acc = logprobs_rows.accessor<float, 2>();
    at::Tensor argmax = logprobs_rows.argmax(-1);
    auto am = argmax.accessor<int64_t, 1>();
    for (size_t t = 0; t < targets.size(); ++t) {
      r.logprob += acc[t][targets[t]];
      if (am[t] != targets[t]) r.is_greedy = false;
    }
    stats_.scored_tokens += r.num_tokens;
    out[req] = r;
  };

  absl::Status st = model::CatchTorch([&]() -> absl::Status {
    if (!opts_.reuse_context) {
      // lm-eval's way: every (context + continuation) whole, longest first.
      std::vector<int64_t> order(n);
      for (int64_t i = 0; i < n; ++i) order[i] = i;
      auto len = [&](int64_t i) {
        return enc[i].first.size() + enc[i].second.size();
      };
      std::stable_sort(order.begin(), order.end(),
                       [&](int64_t a, int64_t b) { return len(a) > len(b); });
      for (size_t b0 = 0; b0 < order.size();) {
        // Longest first: the first row bounds the batch's width.
        const int64_t w0 = std::min<int64_t>(len(order[b0]), L);
        const int64_t cap = std::min<int64_t>(
            opts_.batch_size,
            RowsWithinAttentionBudget(lm_.config().num_heads, w0));
        size_t b1 = std::min(order.size(), b0 + static_cast<size_t>(cap));
        std::vector<std::vector<int>> rows;
        std::vector<int64_t> inp_len;
        int64_t width = 1;
        for (size_t j = b0; j < b1; ++j) {
          const auto& [c, k] = enc[order[j]];
          std::vector<int> seq = c;
          seq.insert(seq.end(), k.begin(), k.end());
          seq = Tail(seq, L + 1);
          seq.pop_back();
          inp_len.push_back(static_cast<int64_t>(seq.size()));
          width = std::max<int64_t>(width, seq.size());
          rows.push_back(std::move(seq));
        }
        at::Tensor ids = IdsTensor(rows, width, dev);
        auto logits = lm_.Forward(ids);
        if (!logits.ok()) return logits.status();
        stats_.forward_tokens += ids.numel();
        ++stats_.forward_calls;
        at::Tensor lp = at::log_softmax(*logits, -1).to(at::kCPU);
        for (size_t j = b0; j < b1; ++j) {
          int64_t req = order[j];
          const auto& k = enc[req].second;
          int64_t cl = static_cast<int64_t>(k.size());
          int64_t il = inp_len[j - b0];
          score(req, lp[j - b0].narrow(0, il - cl, cl), k);
        }
        report(b1 - b0);
        b0 = b1;
      }
      return absl::OkStatus();
    }

    // Reuse: group by context tokens; sorted contexts put shared prefixes
    // next to each other. The key is the context as lm-eval truncates it
    // for this continuation ((context + continuation)[-(L+1):][:-1]), so a
    // context that overflows the window with some choices is cut per
    // choice length exactly as the no-reuse path cuts it.
    std::map<std::vector<int>, std::vector<int64_t>> by_ctx;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t keep = std::max<int64_t>(
          1, L + 1 - static_cast<int64_t>(enc[i].second.size()));
      by_ctx[Tail(enc[i].first, keep)].push_back(i);
    }
    std::vector<std::pair<std::vector<int>, std::vector<int64_t>>> groups(
        by_ctx.begin(), by_ctx.end());
    std::vector<int> prefix_ids;
    KVCache prefix_cache;
    for (size_t g0 = 0; g0 < groups.size();) {
      size_t g1 = std::min(groups.size(), g0 + opts_.batch_size);
      // Fewer contexts per batch when long ones would make the attention
      // scores too large (RowsWithinAttentionBudget).
      int64_t longest = 1;
      for (size_t g = g0; g < g1; ++g)
        longest = std::max<int64_t>(
            longest,
            std::min<int64_t>(L, static_cast<int64_t>(groups[g].first.size())));
      g1 = std::min(g1, g0 + static_cast<size_t>(RowsWithinAttentionBudget(
                                 lm_.config().num_heads, longest)));
      const int64_t G = static_cast<int64_t>(g1 - g0);
      // Left-truncate contexts so the longest continuation fits.
      std::vector<std::vector<int>> ctxs;
      for (size_t g = g0; g < g1; ++g) {
        size_t max_cont = 0;
        for (int64_t r : groups[g].second)
          max_cont = std::max(max_cont, enc[r].second.size());
        int64_t keep =
            std::max<int64_t>(1, L + 1 - static_cast<int64_t>(max_cont));
        ctxs.push_back(Tail(groups[g].first, keep));
      }
      // The shared prefix (at least one context token left per row).
      size_t P = ctxs[0].size() - 1;
      for (const auto& c : ctxs) {
        P = std::min(P, c.size() - 1);
        size_t m = 0;
        while (m < P && c[m] == ctxs[0][m]) ++m;
        P = m;
      }
      if (static_cast<int64_t>(P) < opts_.min_shared_prefix) P = 0;
      KVCache cache;
      if (P > 0) {
        std::vector<int> want(ctxs[0].begin(), ctxs[0].begin() + P);
        if (want != prefix_ids) {
          prefix_cache = KVCache();
          at::Tensor ids = IdsTensor({want}, P, dev);
          Step(lm_, ids, at::Tensor(), {0}, &prefix_cache);
          stats_.forward_tokens += P;
          ++stats_.forward_calls;
          prefix_ids = want;
        }
        cache = prefix_cache.RepeatInterleave(G);
      }
      // Context remainders, right-padded.
      std::vector<std::vector<int>> rem;
      int64_t R = 1;
      for (const auto& c : ctxs) {
        rem.emplace_back(c.begin() + P, c.end());
        R = std::max<int64_t>(R, rem.back().size());
      }
      at::Tensor ids = IdsTensor(rem, R, dev);
      std::vector<int64_t> start(G, static_cast<int64_t>(P));
      at::Tensor logits = Step(lm_, ids, at::Tensor(), start, &cache);
      stats_.forward_tokens += ids.numel();
      ++stats_.forward_calls;
      // Which cached positions are real, per group.
      auto bool_cpu = at::TensorOptions().dtype(at::kBool);
      at::Tensor valid = at::ones({G, static_cast<int64_t>(P) + R}, bool_cpu);
      for (int64_t g = 0; g < G; ++g)
        valid[g].narrow(0, P + rem[g].size(), R - rem[g].size()).fill_(false);
      at::Tensor last_index = at::empty({G}, at::kLong);
      for (int64_t g = 0; g < G; ++g)
        last_index[g] = static_cast<int64_t>(rem[g].size()) - 1;
      at::Tensor last =
          logits
              .gather(1, last_index.to(dev).view({G, 1, 1}).expand(
                             {G, 1, logits.size(2)}))
              .squeeze(1);
      at::Tensor last_lp = at::log_softmax(last, -1).to(at::kCPU);  // [G, V]

      // Continuations: each request row continues its group's cache.
      std::vector<int64_t> row_group, row_req;
      std::vector<std::vector<int>> cont_in;
      for (int64_t g = 0; g < G; ++g)
        for (int64_t r : groups[g0 + g].second) {
          const auto& k = enc[r].second;
          if (k.empty()) {
            out[r] = {0.0, true, 0};
            continue;
          }
          row_group.push_back(g);
          row_req.push_back(r);
          cont_in.emplace_back(k.begin(), k.end() - 1);  // last needs no input
        }
      const int64_t N = static_cast<int64_t>(row_req.size());
      // Continuation rows in chunks of batch_size, longest first, so that
      // short continuations are not padded to the longest of the batch
      // (PIQA's choices vary from a few words to paragraphs).
      std::vector<int64_t> rows_order(N);
      for (int64_t j = 0; j < N; ++j) rows_order[j] = j;
      std::stable_sort(rows_order.begin(), rows_order.end(),
                       [&](int64_t a, int64_t b) {
                         return cont_in[a].size() > cont_in[b].size();
                       });
      const int64_t chunk = std::max<int64_t>(opts_.batch_size, G);
      for (int64_t c0 = 0; c0 < N; c0 += chunk) {
        const int64_t c1 = std::min(N, c0 + chunk), M = c1 - c0;
        std::vector<int64_t> idx(M), rstart(M);
        std::vector<std::vector<int>> in(M);
        int64_t Cm = 0;
        for (int64_t m = 0; m < M; ++m) {
          int64_t j = rows_order[c0 + m];
          idx[m] = row_group[j];
          rstart[m] = static_cast<int64_t>(ctxs[row_group[j]].size());
          in[m] = cont_in[j];
          Cm = std::max<int64_t>(Cm, in[m].size());
        }
        at::Tensor cont_lp;
        if (Cm > 0) {
          at::Tensor index = at::from_blob(idx.data(), {M}, at::kLong).clone();
          KVCache rows_cache = cache.Select(index.to(dev));
          at::Tensor rows_valid = valid.index_select(0, index).to(dev);
          at::Tensor cids = IdsTensor(in, Cm, dev);
          at::Tensor cl = Step(lm_, cids, rows_valid, rstart, &rows_cache);
          stats_.forward_tokens += cids.numel();
          ++stats_.forward_calls;
          cont_lp = at::log_softmax(cl, -1).to(at::kCPU);  // [M, Cm, V]
        }
        for (int64_t m = 0; m < M; ++m) {
          int64_t j = rows_order[c0 + m];
          const auto& k = enc[row_req[j]].second;
          at::Tensor rows = last_lp[row_group[j]].unsqueeze(0);
          if (k.size() > 1)
            rows = at::cat({rows, cont_lp[m].narrow(0, 0, k.size() - 1)}, 0);
          score(row_req[j], rows.contiguous(), k);
        }
      }
      int64_t nreq = 0;
      for (size_t g = g0; g < g1; ++g) nreq += groups[g].second.size();
      report(nreq);
      g0 = g1;
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return Annotate(st, "scoring log-likelihoods");
  return out;
}

absl::StatusOr<std::vector<std::vector<double>>>
CausalLMScorer::NextTokenScores(const std::vector<std::string>& contexts,
                                const std::vector<std::string>& candidates,
                                const ProgressFn& progress) {
  // Context + first token of each candidate as a one-token continuation:
  // the reuse path runs each context once (shared few-shot prefix once per
  // batch) and needs no continuation forward.
  const model::Tokenizer& tok = *lm_.tokenizer();
  std::vector<int> cand_ids;
  for (const auto& c : candidates) {
    std::vector<int> ids = tok.Encode(c, false);
    if (ids.empty())
      return absl::InvalidArgumentError("candidate '" + c +
                                        "' encodes to no token");
    cand_ids.push_back(ids[0]);
  }
  // Build requests whose continuation token ids are forced: encode the
  // context alone and score the candidate id directly.
  const int64_t n = static_cast<int64_t>(contexts.size());
  std::vector<std::vector<double>> out(n);
  const at::Device dev = lm_.device();
  std::vector<std::vector<int>> enc(n);
  for (int64_t i = 0; i < n; ++i) {
    enc[i] = contexts[i].empty() ? std::vector<int>{PrefixToken(tok)}
                                 : EncodeText(contexts[i]);
    enc[i] = Tail(enc[i], opts_.max_length);
  }
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](int64_t a, int64_t b) { return enc[a] < enc[b]; });
  std::vector<int> prefix_ids;
  KVCache prefix_cache;
  int64_t done = 0;
  absl::Status st = model::CatchTorch([&]() -> absl::Status {
    for (int64_t b0 = 0; b0 < n; b0 += opts_.batch_size) {
      int64_t b1 = std::min<int64_t>(n, b0 + opts_.batch_size);
      const int64_t G = b1 - b0;
      size_t P = 0;
      if (opts_.reuse_context) {
        const auto& first = enc[order[b0]];
        P = first.size() - 1;
        for (int64_t j = b0; j < b1; ++j) {
          const auto& c = enc[order[j]];
          P = std::min(P, c.size() - 1);
          size_t m = 0;
          while (m < P && c[m] == first[m]) ++m;
          P = m;
        }
        if (static_cast<int64_t>(P) < opts_.min_shared_prefix) P = 0;
      }
      KVCache cache;
      if (P > 0) {
        std::vector<int> want(enc[order[b0]].begin(),
                              enc[order[b0]].begin() + P);
        if (want != prefix_ids) {
          prefix_cache = KVCache();
          Step(lm_, IdsTensor({want}, P, dev), at::Tensor(), {0},
               &prefix_cache);
          stats_.forward_tokens += P;
          ++stats_.forward_calls;
          prefix_ids = want;
        }
        cache = prefix_cache.RepeatInterleave(G);
      }
      std::vector<std::vector<int>> rem;
      int64_t R = 1;
      for (int64_t j = b0; j < b1; ++j) {
        rem.emplace_back(enc[order[j]].begin() + P, enc[order[j]].end());
        R = std::max<int64_t>(R, rem.back().size());
      }
      at::Tensor ids = IdsTensor(rem, R, dev);
      at::Tensor logits =
          Step(lm_, ids, at::Tensor(), std::vector<int64_t>(G, P), &cache);
      stats_.forward_tokens += ids.numel();
      ++stats_.forward_calls;
      at::Tensor lp = at::log_softmax(logits, -1).to(at::kCPU);
      for (int64_t j = 0; j < G; ++j) {
        int64_t last = static_cast<int64_t>(rem[j].size()) - 1;
        auto row = lp[j][last];
        std::vector<double> s;
        for (int id : cand_ids) s.push_back(row[id].item<float>());
        out[order[b0 + j]] = std::move(s);
      }
      done += G;
      if (progress) progress(done, n);
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return Annotate(st, "scoring next-token letters");
  return out;
}

absl::StatusOr<std::vector<std::string>> CausalLMScorer::Generate(
    const std::vector<GenerationRequest>& requests,
    const ProgressFn& progress) {
  const model::Tokenizer& tok = *lm_.tokenizer();
  std::vector<std::string> out;
  const at::Device dev = lm_.device();
  absl::Status st = model::CatchTorch([&]() -> absl::Status {
    for (size_t i = 0; i < requests.size(); ++i) {
      const auto& r = requests[i];
      std::vector<int> ids = r.context.empty()
                                 ? std::vector<int>{PrefixToken(tok)}
                                 : EncodeText(r.context);
      ids = Tail(ids, std::max<int64_t>(1, opts_.max_length - r.max_gen_toks));
      KVCache cache;
      at::Tensor input = IdsTensor({ids}, ids.size(), dev);
      std::vector<int> gen;
      std::string text;
      for (int step = 0; step < r.max_gen_toks; ++step) {
        auto logits = lm_.Forward(input, at::Tensor(), &cache);
        if (!logits.ok()) return logits.status();
        stats_.forward_tokens += input.numel();
        ++stats_.forward_calls;
        int next = static_cast<int>(
            (*logits)[0][logits->size(1) - 1].argmax().item<int64_t>());
        if (next == tok.eos_id()) break;
        gen.push_back(next);
        ++stats_.generated_tokens;
        text = tok.Decode(gen, true);
        bool stop = false;
        for (const auto& u : r.until)
          if (!u.empty() && text.find(u) != std::string::npos) stop = true;
        if (stop) break;
        input = IdsTensor({{next}}, 1, dev);
      }
      size_t cut = text.size();
      for (const auto& u : r.until)
        if (!u.empty()) cut = std::min(cut, text.find(u));
      out.push_back(text.substr(0, cut));
      if (progress) progress(i + 1, requests.size());
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return Annotate(st, "generating");
  return out;
}

absl::StatusOr<std::vector<RollingResult>> CausalLMScorer::LoglikelihoodRolling(
    const std::vector<std::string>& texts, const ProgressFn& progress) {
  const model::Tokenizer& tok = *lm_.tokenizer();
  const int64_t L = opts_.max_length;
  const at::Device dev = lm_.device();
  std::vector<RollingResult> out;
  absl::Status st = model::CatchTorch([&]() -> absl::Status {
    for (size_t i = 0; i < texts.size(); ++i) {
      // lm-eval 0.4.13 rolls over tok_encode(text): with the tokenizer's
      // BOS, which the first window then predicts from the prefix token.
      std::vector<int> toks = EncodeText(texts[i]);
      RollingResult res;
      res.num_tokens = static_cast<int64_t>(toks.size());
      const int64_t n = res.num_tokens;
      // lm-eval's get_rolling_token_windows(context_len=1): the first
      // window is [prefix] + toks[:L-1] predicting toks[:L]; each next
      // window predicts the following (up to) L tokens from the L tokens
      // before them.
      int64_t predicted = 0;
      while (predicted < n) {
        int64_t pred_len = std::min<int64_t>(L, n - predicted);
        int64_t end = predicted + pred_len;
        std::vector<int> input;
        if (predicted == 0) {
          input.push_back(PrefixToken(tok));
          input.insert(input.end(), toks.begin(), toks.begin() + end - 1);
        } else {
          int64_t b = std::max<int64_t>(0, end - 1 - L);
          input.assign(toks.begin() + b, toks.begin() + end - 1);
        }
        at::Tensor ids = IdsTensor({input}, input.size(), dev);
        auto logits = lm_.Forward(ids);
        if (!logits.ok()) return logits.status();
        stats_.forward_tokens += ids.numel();
        ++stats_.forward_calls;
        at::Tensor lp = at::log_softmax((*logits)[0], -1).to(at::kCPU);
        int64_t T = static_cast<int64_t>(input.size());
        auto acc = lp.accessor<float, 2>();
        for (int64_t t = 0; t < pred_len; ++t)
          res.logprob += acc[T - pred_len + t][toks[predicted + t]];
        predicted = end;
      }
      stats_.scored_tokens += n;
      out.push_back(res);
      if (progress) progress(i + 1, texts.size());
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return Annotate(st, "rolling log-likelihood");
  return out;
}

}  // namespace qgrid::eval
