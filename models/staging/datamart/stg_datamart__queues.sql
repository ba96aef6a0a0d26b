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
        {{ change_extract_lineage() }}
    from source
)

select * from renamed
