"""The rows a run summary shows per built table (``lakehouse.dbt_runner.stored_rows``): read from the
Iceberg snapshot without a Spark job, and counted only where the snapshot's figure is not exact."""

from __future__ import annotations

import itertools

import pytest

from lakehouse.dbt_runner import stored_rows

names = itertools.count()


def jobs_while(spark, action):
    """``action()``'s value and the ids of the Spark jobs it ran."""
    group = f"stored-rows-{next(names)}"
    spark.sparkContext.setJobGroup(group, group)
    try:
        value = action()
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
    return value, list(spark.sparkContext.statusTracker().getJobIdsForGroup(group))


@pytest.fixture
def table(spark):
    spark.sql("create database if not exists rows_test")
    name = f"rows_test.t{next(names)}"
    yield name
    spark.sql(f"drop table if exists {name}")


def test_an_iceberg_table_is_read_from_its_snapshot_without_a_job(spark, table):
    spark.sql(f"create table {table} (id int) using iceberg")
    assert jobs_while(spark, lambda: stored_rows(spark, table)) == (0, [])  # no snapshot yet
    spark.sql(f"insert into {table} values (1), (2), (3)")
    spark.sql(f"insert into {table} values (4)")
    assert jobs_while(spark, lambda: stored_rows(spark, table)) == (4, [])


def test_delete_files_make_it_count(spark, table):
    spark.sql(f"create table {table} (id int) using iceberg tblproperties ('write.delete.mode' = 'merge-on-read')")
    spark.range(1, 4).selectExpr("cast(id as int) as id").coalesce(1).writeTo(table).append()  # one data file
    spark.sql(f"delete from {table} where id = 2")  # a position delete file beside it
    summary = spark.sql(f"select summary from {table}.snapshots order by committed_at desc limit 1").first()[0]
    assert summary["total-records"] == "3" and summary["total-delete-files"] != "0"  # the figure is not exact
    rows, jobs = jobs_while(spark, lambda: stored_rows(spark, table))
    assert rows == 2 and jobs


def test_a_table_that_is_not_iceberg_is_counted(spark, table):
    spark.sql(f"create table {table} using parquet as select id from range(5)")
    rows, jobs = jobs_while(spark, lambda: stored_rows(spark, table))
    assert rows == 5 and jobs
