# syntax=docker/dockerfile:1
# lapse as a container image: a release build in a Rust builder stage, then only the binary on a
# distroless runtime (glibc and libgcc for unwinding panics; no shell, no package manager), run as
# the non-root user 65532. Reports go to a mounted folder:
#
#   docker build -t lapse .
#   docker run --rm -v "$PWD:/repo:ro" -v "$PWD/lapse-out:/out" lapse scan --repo /repo --out /out
#
# The release workflow builds it for linux/amd64 and linux/arm64 and pushes it with the release tag.

ARG RUST_VERSION=1.94

FROM rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src
# Only what the build reads (see .dockerignore); the registry and target caches persist between builds.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY rules ./rules
COPY secrets ./secrets
COPY reports ./reports
COPY examples ./examples
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin lapse \
    && install -D -m 0755 target/release/lapse /out/lapse

FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="lapse" \
      org.opencontainers.image.description="Find the standing access that machines hold, and make temporary access end by itself" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/lapse /usr/local/bin/lapse
# 65532 is distroless's nonroot user; stated numerically so runAsNonRoot can verify it.
USER 65532:65532
WORKDIR /out
ENTRYPOINT ["/usr/local/bin/lapse"]
CMD ["--help"]
