with

source as (
    select * from {{ source('airline', 'airport_codes') }}
),

renamed as (
    select
        airport_id,
        trim(name) as airport_name,
        trim(city) as city,
        trim(state) as state,
        _source_file,
        _record_number,
        _batch_id,
        _ingested_at
    from source
)

select * from renamed
