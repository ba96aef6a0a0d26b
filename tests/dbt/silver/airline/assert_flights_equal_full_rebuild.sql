-- silver.flights (incremental insert-overwrite by date) must equal a full rebuild: for every date,
-- exactly the rows of that date's latest batch. Returns differing rows with their multiplicity.
-- An audit (tag audit): it reads the whole history, so a plain `lakehouse run` leaves it out of
-- an incremental build; full builds, `--select`, `--full-refresh` and `lakehouse run --audit` run it.
{{ config(tags=['audit']) }}

with

deliveries as (
    select * from {{ ref('stg_airline__flights') }}
),

latest_batch as (
    select
        flight_date,
        max(_batch_id) as latest_batch_id
    from deliveries
    group by flight_date
),

rebuilt as (
    select
        deliveries.flight_date,
        deliveries._source_file,
        deliveries._record_number,
        deliveries._batch_id,
        deliveries.carrier,
        deliveries.origin_airport_id,
        deliveries.dest_airport_id,
        deliveries.dep_delay,
        deliveries.arr_delay
    from deliveries
    inner join latest_batch
        on
            deliveries.flight_date = latest_batch.flight_date
            and deliveries._batch_id = latest_batch.latest_batch_id
),

incremental as (
    select
        flight_date,
        _source_file,
        _record_number,
        _batch_id,
        carrier,
        origin_airport_id,
        dest_airport_id,
        dep_delay,
        arr_delay
    from {{ ref('flights') }}
)

{{ symmetric_difference('rebuilt', 'incremental') }}
