{{
    config(
        incremental_strategy='insert_overwrite',
        **partitioned(['flight_date']),
    )
}}

{#-
    Flights per date from the date's latest delivery. A corrected file for a date already loaded
    arrives in a later batch and replaces that date's flights entirely (insert overwrite of the
    date's partition: no duplicates, no mix of old and new). A late date simply adds a partition.
    All files of the latest batch for a date are kept (a date may be delivered in several parts).
-#}

with

deliveries as (
    select * from {{ ref('stg_airline__flights') }}
),

{% if is_incremental() %}
    changed_dates as (
        select distinct deliveries.flight_date
        from deliveries
        {{ only_new_batches('deliveries._batch_id') }}
    ),
{% endif %}

latest_delivery as (
    select
        deliveries.flight_date,
        max(deliveries._batch_id) as latest_batch_id
    from deliveries
    {% if is_incremental() %}
        where deliveries.flight_date in (select changed_dates.flight_date from changed_dates)
    {% endif %}
    group by deliveries.flight_date
),

flights as (
    select
        deliveries.carrier,
        deliveries.origin_airport_id,
        deliveries.dest_airport_id,
        deliveries.dep_delay,
        deliveries.arr_delay,
        deliveries._source_file,
        deliveries._record_number,
        deliveries._batch_id,
        deliveries.flight_date
    from deliveries
    inner join latest_delivery
        on
            deliveries.flight_date = latest_delivery.flight_date
            and deliveries._batch_id = latest_delivery.latest_batch_id
)

select * from flights
