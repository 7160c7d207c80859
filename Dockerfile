# syntax=docker/dockerfile:1
# The opshub image for those who build with a container engine. `make image`
# builds the same files without one (internal/packaging); its test
# (dockerfile_test.go) holds this file to the same paths, user, entrypoint
# and labels. Build for both platforms with:
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=$(git describe --tags --always) --build-arg REVISION=$(git rev-parse HEAD) -t IMAGE .

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS TARGETARCH VERSION=dev REVISION=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath \
      -ldflags "-s -w -X github.com/opshub/opshub/internal/buildinfo.Version=${VERSION} -X github.com/opshub/opshub/internal/buildinfo.Revision=${REVISION}" \
      -o /out/opshub ./cmd/opshub
RUN mkdir -p /rootfs/etc/ssl/certs /rootfs/tmp /rootfs/var/lib/opshub \
 && chmod 1777 /rootfs/tmp && chmod 0750 /rootfs/var/lib/opshub \
 && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ca-certificates.crt \
 && printf 'root:x:0:0:root:/root:/sbin/nologin\nopshub:x:65532:65532:opshub:/var/lib/opshub:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' > /rootfs/etc/passwd \
 && printf 'root:x:0:\nopshub:x:65532:\nnobody:x:65534:\n' > /rootfs/etc/group

FROM scratch
ARG VERSION=dev REVISION=unknown
COPY --from=build /rootfs/ /
COPY --from=build --chown=65532:65532 /rootfs/var/lib/opshub /var/lib/opshub
COPY --from=build /out/opshub /usr/local/bin/opshub
ENV PATH=/usr/local/bin:/usr/bin:/bin SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
LABEL org.opencontainers.image.title="opshub" \
      org.opencontainers.image.description="Observability, alerting and release hub for containerised services" \
      org.opencontainers.image.source="https://github.com/opshub/opshub" \
      org.opencontainers.image.url="https://github.com/opshub/opshub" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
# The controller runs as opshub; the collector's pods set runAsUser: 0 to read
# the node's log files.
USER 65532:65532
WORKDIR /
ENTRYPOINT ["/usr/local/bin/opshub"]
