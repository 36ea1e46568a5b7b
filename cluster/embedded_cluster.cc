#include "cluster/embedded_cluster.h"

#include <stdlib.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "coordinator/service.h"
#include "glog/logging.h"

namespace qgrid::cluster {

absl::StatusOr<std::unique_ptr<EmbeddedCluster>> EmbeddedCluster::Start(
    EmbeddedClusterOptions options,
    std::vector<std::unique_ptr<worker::JobExecutor>> executors) {
  if (executors.empty()) {
    return absl::InvalidArgumentError(
        "an embedded cluster needs at least one local worker");
  }
  coordinator::ServerOptions so;
  so.db_path = options.db_path;
  if (so.db_path.empty()) {
    char tmpl[] = "/tmp/qgrid-run-XXXXXX";
    if (!mkdtemp(tmpl)) {
      return absl::InternalError(
          "cannot create a temporary folder for the SQLite file under /tmp");
    }
    so.db_path = std::string(tmpl) + "/qgrid.db";
  }
  so.listen = "127.0.0.1:0";
  so.scheduler = options.scheduler;
  auto server = coordinator::CoordinatorServer::Start(so);
  if (!server.ok()) return server.status();

  std::unique_ptr<EmbeddedCluster> c(new EmbeddedCluster());
  c->db_path_ = so.db_path;
  c->executors_ = std::move(executors);
  c->server_ = std::move(*server);
  rpc::RpcOptions rpc = options.agent.rpc;
  rpc.address = c->server_->address();
  c->client_ = std::make_unique<rpc::CoordinatorClient>(rpc);

  const std::string base =
      options.agent.name.empty() ? "local" : options.agent.name;
  absl::MutexLock l(&c->mu_);
  for (size_t i = 0; i < c->executors_.size(); ++i) {
    worker::AgentOptions o = options.agent;
    o.rpc = rpc;
    o.name = absl::StrCat(base, "-", i);
    c->agents_.push_back(
        std::make_unique<worker::WorkerAgent>(o, c->executors_[i].get()));
    ++c->live_;
    c->threads_.emplace_back([a = c->agents_.back().get(), live = &c->live_] {
      absl::Status s = a->Run();
      if (!s.ok()) LOG(ERROR) << "local worker: " << s;
      --*live;
    });
  }
  return c;
}

EmbeddedCluster::~EmbeddedCluster() { Stop(); }

std::string EmbeddedCluster::address() const { return server_->address(); }

void EmbeddedCluster::Drain() {
  absl::MutexLock l(&mu_);
  for (auto& a : agents_) a->Drain();
}

void EmbeddedCluster::Stop() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock l(&mu_);
    if (stopped_) return;
    stopped_ = true;
    for (auto& a : agents_) a->Stop();
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
  server_->Shutdown();
}

}  // namespace qgrid::cluster
