with

source as (
    select * from {{ source('invoices', 'accounts') }}
),

renamed as (
    select
        account_id,
        trim(company_name) as company_name,
        trim(company_address) as company_address,
        trim(contact_person) as contact_person,
        trim(contact_phone) as contact_phone,
        trim(gender) as gender,
        joining_date,
        _source_file,
        _record_number,
        _batch_id
    from source
)

select * from renamed
