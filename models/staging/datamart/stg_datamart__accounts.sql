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
        {{ change_extract_lineage() }}
    from source
)

select * from renamed
