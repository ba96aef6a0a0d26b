with

source as (
    select * from {{ source('datamart', 'settlement_transaction') }}
),

renamed as (
    select
        trim(transaction_id) as transaction_id,
        nullif(trim(queue_id), '') as queue_id,
        amount,
        upper(trim(currency)) as currency,
        trim(status) as status,
        created_at,
        {{ change_extract_lineage() }}
    from source
)

select * from renamed
