# estate-ops images, from one Dockerfile (docker-compose.yaml picks the stage with build.target):
#   airflow   the official Airflow image plus what runs (requirements.txt): every Airflow service
#   sandbox   that plus requirements-dev.txt (moto[server] and the rest): the `sandbox` service only
# The last stage is the Airflow image, so a plain `docker build .` builds it.
# DAGs, plugins, include/, config/ and sandbox/ are mounted by docker-compose.yaml, not baked in.
# No secrets here: connections and keys come from the environment at run time.
FROM apache/airflow:3.3.2-python3.11 AS base

# WeasyPrint prints every report's HTML to its PDF: it needs Pango (and a font) from Debian.
USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
USER airflow

# requirements.txt pins the direct dependencies (apache-airflow==3.3.2 among them, so pip cannot
# move Airflow off the base image's version); constraints.txt pins everything else.
WORKDIR /tmp/estate-ops
COPY requirements.txt constraints.txt ./
RUN pip install --no-cache-dir -r requirements.txt -c constraints.txt
WORKDIR /opt/airflow

# Mount points for named volumes (docker-compose.yaml): created here so a fresh volume inherits
# an owner and mode that any Airflow UID in group 0 can use.
RUN mkdir -p /opt/airflow/secrets /opt/airflow/.sandbox \
 && chmod 0770 /opt/airflow/secrets /opt/airflow/.sandbox

# The local stand-in for AWS, PagerDuty and Slack (`python -m sandbox`): the runtime plus the
# development requirements, pinned by the same constraints.
FROM base AS sandbox
WORKDIR /tmp/estate-ops
COPY requirements-dev.txt ./
RUN pip install --no-cache-dir -r requirements.txt -r requirements-dev.txt -c constraints.txt
WORKDIR /opt/airflow

# What every Airflow service runs: no development packages.
FROM base AS airflow
