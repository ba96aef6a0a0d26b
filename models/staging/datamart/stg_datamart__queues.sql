with

source as (
    select * from {{ source('datamart', 'queue') }}
),

renamed as (
    select
        trim(queue_id) as queue_id,
        nullif(trim(account_id), '') as account_id,
        trim(queue_name) as queue_name,
        trim(status) as status,
        updated_at,
        coalesce(is_deleted, false) as is_deleted,
        _source_file,
        _record_number,
        _batch_id,
        _ingested_at
    from source
)

select * from renamed
