{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        on_schema_change='append_new_columns',
        **partitioned(['flight_date']),
    )
}}

{#-
    One row per flight with departure and arrival airport names, cities and states from the
    current dimension. Left joins: a flight whose airport id is unknown is kept with null names
    (counted by the warning test tests/dbt/gold/airline/warn_flights_with_unknown_airports.sql).
    Incremental by flight date: an incremental run replaces the partitions of the dates whose
    flights changed since the table's watermark (its newest _batch_id: a new, late or corrected
    date), and every date when a new airport version arrived, so a renamed airport shows its
    current name after the next run. Other dates are not read.
-#}

with

flights as (
    select * from {{ ref('flights') }}
),

airports as (
    select * from {{ ref('airports') }}
),

{% if is_incremental() %}
    changed_dates as (
        select distinct flights.flight_date
        from flights
        where
            {{ after_watermark('flights._batch_id') }}
            or {{ compile_time_scalar(
                'select coalesce(max(airports._batch_id), 0) from ' ~ ref('airports') ~ ' as airports', 'bigint'
            ) }} > {{ merged_batch_watermark() }}
    ),
{% endif %}

flights_in_scope as (
    select flights.* from flights
    {% if is_incremental() %}
        where flights.flight_date in (select changed_dates.flight_date from changed_dates)
    {% endif %}
),

flights_with_airports as (
    select
        flights_in_scope.carrier,
        departure_airports.airport_name as dep_airport,
        arrival_airports.airport_name as arr_airport,
        departure_airports.city as dep_city,
        arrival_airports.city as arr_city,
        departure_airports.state as dep_state,
        arrival_airports.state as arr_state,
        flights_in_scope.dep_delay,
        flights_in_scope.arr_delay,
        greatest(
            flights_in_scope._batch_id,
            (select coalesce(max(newest_airports._batch_id), 0) from airports as newest_airports)
        ) as _batch_id,
        flights_in_scope.flight_date
    from flights_in_scope
    left join airports as departure_airports
        on flights_in_scope.origin_airport_id = departure_airports.airport_id
    left join airports as arrival_airports
        on flights_in_scope.dest_airport_id = arrival_airports.airport_id
)

select
    carrier,
    dep_airport,
    arr_airport,
    dep_city,
    arr_city,
    dep_state,
    arr_state,
    dep_delay,
    arr_delay,
    _batch_id,
    flight_date
from flights_with_airports
