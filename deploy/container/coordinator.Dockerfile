# The coordinator (and client commands) without libtorch: a Debian 12 image
# with only the torch-free libraries, built with -DQGRID_WITH_TORCH=OFF.
#
#   docker build -f deploy/container/coordinator.Dockerfile -t qgrid-coordinator .
#   docker run -p 50051:50051 -v qgrid-db:/var/lib/qgrid qgrid-coordinator
#
# Workers need the full build (libtorch); see deploy/slurm and deploy/k8s.
FROM debian:12 AS build
COPY . /src
RUN bash /src/deploy/install-deps.sh --coordinator-only && \
    cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DQGRID_WITH_TORCH=OFF -DQGRID_BUILD_TESTS=OFF && \
    cmake --build /build --target qgrid

FROM debian:12
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libsqlite3-0 libgoogle-glog0v6 \
      libyaml-cpp0.7 libabsl20220623 ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/cli/qgrid /usr/local/bin/qgrid
COPY --from=build /src/eval/tasks /usr/local/share/qgrid/tasks
ENV QGRID_TASKS_DIR=/usr/local/share/qgrid/tasks
VOLUME /var/lib/qgrid
EXPOSE 50051
ENTRYPOINT ["qgrid", "coordinator", "--db", "/var/lib/qgrid/qgrid.db", \
            "--listen", "0.0.0.0:50051"]
