-- Flights whose departure or arrival airport id is not in the current airport dimension are kept
-- in gold with null names. This warning returns one row per such flight, so dbt's
-- "Got N results" is the number of flights with an unknown airport: never silently dropped.
{{ config(severity='warn') }}

select
    flight_date,
    carrier,
    dep_airport,
    arr_airport
from {{ ref('daily_flights_processed') }}
where dep_airport is null or arr_airport is null
