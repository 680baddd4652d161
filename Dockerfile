# The canary controller image: `docker build -t canary .`
# Runs as a non-root user on a read-only root filesystem (see manifests/base/deployment.yaml).
# BASE: any image with Python 3.11 and pip; scripts/build-image.sh builds with a stand-in made from
# Debian's packages where Docker Hub is out of reach.
ARG BASE=python:3.11-slim
FROM ${BASE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY canary ./canary
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM ${BASE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# The Git write-back (canary/gitops) runs the git CLI.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends git ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["canary"]
CMD ["controller", "--leader-elect"]
