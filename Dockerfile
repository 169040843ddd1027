# CNN Lab's container image: the app, the Ray runtime for its training cluster, and PostgreSQL's
# driver for the class board. One image serves every role in deploy/compose.yaml: the app
# replicas (the default command), the Ray head and the Ray workers (their own commands there).
#
#   docker build -t cnn-lab .
#   docker run -p 8501:8501 -v cnnlab-data:/data cnn-lab        # one replica, SQLite, local workers
#
# Everything the app opens on is inside the image (shipped checkpoints, scikit-learn's digits
# and sample photos, generated shapes): nothing is downloaded when it runs. A CPU-only image is
# much smaller: --build-arg TORCH_INDEX_URL=<PyTorch's CPU wheel index>.
FROM python:3.11-slim-bookworm

ARG TORCH_INDEX_URL=""
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CNNLAB_DATA_DIR=/data \
    TORCH_HOME=/data/torch

WORKDIR /app

# torch first, in a layer of its own (the largest by far), at requirements.txt's pins.
RUN pip install ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} torch==2.14.1 torchvision==0.29.1

# The app, Ray (requirements-cluster.txt) and psycopg at requirements-dev.txt's pin.
COPY requirements.txt requirements-cluster.txt ./
RUN pip install -r requirements.txt -r requirements-cluster.txt "psycopg[binary]==3.3.9"

# A user without root rights; the data folder (database, downloads' cache) is a volume it owns.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin cnnlab \
    && mkdir -p /data && chown cnnlab:cnnlab /data
COPY --chown=cnnlab:cnnlab . /app
USER cnnlab
VOLUME ["/data"]

EXPOSE 8501
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).read().strip() != b'ok')"]

CMD ["streamlit", "run", "app.py", "--server.address=0.0.0.0", "--server.port=8501", "--server.headless=true", "--browser.gatherUsageStats=false"]
