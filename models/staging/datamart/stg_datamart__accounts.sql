with

source as (
    select * from {{ source('datamart', 'account') }}
),

renamed as (
    select
        trim(account_id) as account_id,
        trim(account_name) as account_name,
        trim(status) as status,
        upper(trim(country)) as country,
        created_at,
        updated_at,
        coalesce(is_deleted, false) as is_deleted,
        _source_file,
        _record_number,
        _batch_id,
        _ingested_at
    from source
)

select * from renamed
