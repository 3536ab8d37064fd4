# Tollgate: multi-stage build → small non-root runtime image.
#   docker build -t tollgate .
#   docker run -p 8080:8080 -v tollgate-data:/data tollgate
# (Docker cannot run on the development machine; see README "Running several instances".)

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock build.rs ./
COPY migrations migrations
RUN mkdir src && echo 'fn main() {}' > src/main.rs && echo '' > src/lib.rs \
    && cargo build --release --locked || true
COPY src src
RUN touch src/main.rs src/lib.rs && cargo build --release --locked \
    && strip target/release/tollgate

# distroless/cc: glibc + libgcc + CA certificates, no shell, runs as uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/tollgate /usr/local/bin/tollgate
ENV TOLLGATE_DATA_DIR=/data \
    TOLLGATE_SERVER__LISTEN=0.0.0.0:8080
VOLUME ["/data"]
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/tollgate"]
CMD ["serve"]
