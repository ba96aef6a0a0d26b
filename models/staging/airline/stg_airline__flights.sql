with

source as (
    select * from {{ source('airline', 'daily_flights') }}
),

renamed as (
    select
        _file_date as flight_date,
        upper(trim(carrier)) as carrier,
        originairportid as origin_airport_id,
        destairportid as dest_airport_id,
        depdelay as dep_delay,
        arrdelay as arr_delay,
        _source_file,
        _record_number,
        _batch_id,
        _ingested_at
    from source
)

select * from renamed
