with

source as (
    select * from {{ source('datamart', 'adjustment') }}
),

renamed as (
    select
        trim(adjustment_id) as adjustment_id,
        nullif(trim(account_id), '') as account_id,
        nullif(trim(transaction_id), '') as transaction_id,
        amount,
        trim(reason) as reason,
        updated_at,
        {{ change_extract_lineage() }}
    from source
)

select * from renamed
