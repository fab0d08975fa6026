# Palinsesto from this repository: one image for every role (serve, panel, node).
# ffmpeg comes from the imageio-ffmpeg wheel, as everywhere else (no system ffmpeg).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . && python -c "import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())"

RUN useradd --create-home --home-dir /data palinsesto
USER palinsesto
WORKDIR /data
ENV PALINSESTO_DATA_DIR=/data
ENTRYPOINT ["palinsesto"]
CMD ["serve"]
