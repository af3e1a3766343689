"""Pipelines: plain functions over adapters and services, run by Airflow DAGs or the CLI."""
