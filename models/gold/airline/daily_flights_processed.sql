{{
    config(
        **partitioned(['flight_date']),
    )
}}

{#-
    One row per flight with departure and arrival airport names, cities and states from the
    current dimension. Left joins: a flight whose airport id is unknown is kept with null names
    (counted by the warning test tests/dbt/gold/airline/warn_flights_with_unknown_airports.sql).
    Rebuilt each run, so a renamed airport shows its current name after the next run.
-#}

with

flights as (
    select * from {{ ref('flights') }}
),

airports as (
    select * from {{ ref('airports') }}
),

flights_with_airports as (
    select
        flights.carrier,
        departure_airports.airport_name as dep_airport,
        arrival_airports.airport_name as arr_airport,
        departure_airports.city as dep_city,
        arrival_airports.city as arr_city,
        departure_airports.state as dep_state,
        arrival_airports.state as arr_state,
        flights.dep_delay,
        flights.arr_delay,
        flights.flight_date
    from flights
    left join airports as departure_airports
        on flights.origin_airport_id = departure_airports.airport_id
    left join airports as arrival_airports
        on flights.dest_airport_id = arrival_airports.airport_id
)

select
    flight_date,
    carrier,
    dep_airport,
    arr_airport,
    dep_city,
    arr_city,
    dep_state,
    arr_state,
    dep_delay,
    arr_delay
from flights_with_airports
