# codefinder in a container, installed with the README's own command (`make install`, then `make run`).
#   docker build -t codefinder .
#   docker run -p 8000:8000 -v /path/to/cms-files:/data:ro codefinder
# /data holds the CMS files as shipped (the layout of ../shared/data: hcpcs/, drugs/). The index and the
# embedding cache live in /var/lib/codefinder (mount a volume there to keep them between runs).
FROM python:3.11-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends make \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/codefinder
COPY . .

# The Makefile pins torch==2.13.0; outside the project's own machines that pin must find the CPU build,
# which PyTorch publishes on its own index (without it pip would pull the CUDA build, gigabytes).
ENV PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    CODEFINDER_DATA_DIR=/data \
    CODEFINDER_HOME=/var/lib/codefinder \
    HOST=0.0.0.0 \
    PORT=8000

RUN make install

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=180s CMD python3 -c \
  "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz').status != 200)"

# `make run`: build the index from /data unless the one in /var/lib/codefinder is current, then serve
CMD ["make", "run"]
