{#-
    Per flight date and carrier. Averages ignore unknown delays; the 15-minute share is taken over
    flights whose departure delay is known; unknown_delay_flights counts flights with a missing
    departure or arrival delay (cancelled or diverted).
-#}

with

flights as (
    select * from {{ ref('flights') }}
),

per_day_and_carrier as (
    select
        flight_date,
        carrier,
        count(*) as flights,
        cast(round(avg(dep_delay), 2) as decimal(10, 2)) as avg_dep_delay,
        cast(round(avg(arr_delay), 2) as decimal(10, 2)) as avg_arr_delay,
        cast(
            round(cast(sum(case when dep_delay >= 15 then 1 else 0 end) as double) / count(dep_delay), 4)
            as decimal(6, 4)
        ) as share_dep_delayed_15,
        sum(case when dep_delay is null or arr_delay is null then 1 else 0 end) as unknown_delay_flights
    from flights
    group by flight_date, carrier
)

select * from per_day_and_carrier
