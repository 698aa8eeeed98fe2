# syntax=docker/dockerfile:1
# The helpdesk image: built by scripts/package in the official Swift image (the same steps CI runs,
# as no Docker engine exists on the build machines), run on a slim Debian with only the libraries the
# static-stdlib binary loads, kubectl, and a numeric non-root user.
#   docker build -t helpdesk .
#   docker run --read-only --tmpfs /tmp -v helpdesk-data:/var/lib/helpdesk -p 8080:8080 helpdesk
# Base images are pinned by tag; pin them by digest (name:tag@sha256:…) for byte-identical rebuilds.

# Same minor version as the toolchain CI tests with (Swift 6.3.1 on Debian 12).
ARG SWIFT_IMAGE=swift:6.3.1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${SWIFT_IMAGE} AS build
WORKDIR /src
# The build's Debian packages from the repository's one list; the Swift image has most of them.
RUN --mount=type=bind,source=scripts/install-deps,target=/tmp/install-deps \
    /tmp/install-deps --no-recommends build && rm -rf /var/lib/apt/lists/*
COPY . .
# The context has no .git: pass the commit (`helpdesk version` reports it) and its time (identical tarballs),
# e.g. --build-arg HELPDESK_BUILD_COMMIT=$(git rev-parse HEAD) --build-arg SOURCE_DATE_EPOCH=$(git log -1 --format=%ct).
ARG HELPDESK_BUILD_COMMIT
ARG SOURCE_DATE_EPOCH
# .build is a cache mount: a rebuild after a change takes seconds to minutes instead of 8.
RUN --mount=type=cache,target=/src/.build \
    scripts/package --out /dist \
    && (cd /dist && sha256sum --check --strict ./*.tar.gz.sha256) \
    && mkdir /out && tar -xzf /dist/*.tar.gz -C /out --strip-components=1

# kubectl from the Kubernetes release binaries (Debian's kubernetes-client is 1.20, too old), checked
# against the release's own .sha256 file. That only proves an intact download from dl.k8s.io: pin the
# value with --build-arg KUBECTL_SHA256=… (the build prints it) so a changed file fails the build.
FROM ${RUNTIME_IMAGE} AS kubectl
ARG KUBECTL_VERSION=v1.34.1
ARG KUBECTL_SHA256=
ARG TARGETARCH
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates curl
RUN set -eu; \
    url="https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/${TARGETARCH:-amd64}/kubectl"; \
    curl -fsSL --retry 3 -o /kubectl "$url"; \
    curl -fsSL --retry 3 -o /kubectl.sha256 "$url.sha256"; \
    echo "$(cat /kubectl.sha256)  /kubectl" | sha256sum --check --strict; \
    if [ -n "$KUBECTL_SHA256" ]; then \
      echo "$KUBECTL_SHA256  /kubectl" | sha256sum --check --strict; \
    else \
      echo "kubectl ${KUBECTL_VERSION} is not pinned: --build-arg KUBECTL_SHA256=$(cat /kubectl.sha256)" >&2; \
    fi; \
    chmod 0755 /kubectl; \
    /kubectl version --client

FROM ${RUNTIME_IMAGE} AS runtime
RUN --mount=type=bind,source=scripts/install-deps,target=/tmp/install-deps \
    /tmp/install-deps --no-recommends runtime && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 10001 helpdesk \
    && useradd --uid 10001 --gid 10001 --home-dir /var/lib/helpdesk --no-create-home \
       --shell /usr/sbin/nologin helpdesk \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/helpdesk
COPY --from=kubectl /kubectl /usr/local/bin/kubectl
COPY --from=build /out/bin/helpdesk /usr/local/bin/helpdesk
COPY --from=build /out/helpdesk.example.yaml /out/README.md /out/UPGRADING.md /usr/share/doc/helpdesk/
COPY --from=build /out/adapters /usr/share/doc/helpdesk/adapters
# The image's configuration names no folders: runbooks, templates and policies come from the binary.
# Mount your own file over it (or set HELPDESK_CONFIG); HELPDESK_<SECTION>_<KEY> overrides one key.
COPY <<EOF /etc/helpdesk/helpdesk.yaml
server:
  listen: 0.0.0.0:8080
store:
  path: /var/lib/helpdesk/helpdesk.sqlite
diagnosis:
  bundles_dir: /var/lib/helpdesk/incidents
EOF

# HOME holds kubectl's discovery cache: on the data volume, the only writable place.
ENV HELPDESK_CONFIG=/etc/helpdesk/helpdesk.yaml \
    HOME=/var/lib/helpdesk
USER 10001:10001
WORKDIR /var/lib/helpdesk
VOLUME ["/var/lib/helpdesk"]
EXPOSE 8080
# No HEALTHCHECK: the image has no HTTP client to probe with, and Kubernetes ignores it (the chart
# probes /healthz, /readyz). tini is PID 1: it passes SIGTERM on to the server and reaps orphans (a
# kubectl auth plugin left behind by a timed-out tool call would otherwise stay a zombie).
ENTRYPOINT ["/usr/bin/tini", "--", "helpdesk"]
CMD ["serve"]
