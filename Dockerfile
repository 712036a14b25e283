# Build: docker build -t care-hub .   Run: see docker-compose.yml.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin care-hub

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/care-hub --create-home care-hub
COPY --from=build /src/target/release/care-hub /usr/local/bin/care-hub
USER care-hub
WORKDIR /var/lib/care-hub
ENV CARE_HUB_BIND=0.0.0.0:8080 CARE_HUB_LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["care-hub"]
CMD ["serve"]
