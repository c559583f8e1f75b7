# leakscan's own image: `docker run --rm -v "$PWD:/src" leakscan scan .`

# the wheel is built where a C compiler is (setup.py compiles the two C modules: git
# history's changed lines, the decoders' run trigger); the image that runs it has none
FROM python:3.11 AS build
WORKDIR /build
COPY pyproject.toml setup.py README.md LICENSE ./
COPY leakscan ./leakscan
COPY patterns ./patterns
RUN pip wheel --no-cache-dir --no-deps -w /wheels .

FROM python:3.11-slim

# git: `leakscan scan git` and the pre-commit hook read repositories with it
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# the rules in patterns/ are installed as data (share/leakscan/patterns); installed from this
# tree's wheel (the distribution leakscan-secrets), never by name from an index
COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl \
 && rm -rf /wheels \
 && python -c "import leakscan.sources.git._delta, leakscan.engine._runs" \
 && leakscan --version \
 && leakscan rules list >/dev/null \
 && git config --system --add safe.directory '*'

# scanned content is mounted here; run as an unprivileged user
RUN useradd --create-home --uid 10001 leakscan
USER leakscan
# the rules' Hyperscan database (and the other caches) built here, in the user's cache: a
# container started with --rm begins with the image's files, and compiling it took 2.7 s of
# every run; on a CPU the database does not suit, Hyperscan refuses it and it is compiled anew
RUN printf 'nothing to see\n' > /tmp/warm.txt \
 && leakscan scan /tmp/warm.txt --no-progress >/dev/null \
 && rm /tmp/warm.txt \
 && test -n "$(ls ~/.cache/leakscan/hsdb-*.bin)"
WORKDIR /src
ENTRYPOINT ["leakscan"]
CMD ["--help"]
