# estate-ops image: the official Airflow image plus this project's pinned dependencies.
# DAGs, plugins, include/ and config/ are mounted by docker-compose.yaml, not baked in.
# No secrets here: connections and keys come from the environment at run time.
FROM apache/airflow:3.3.2-python3.11

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
