with orders as (
    select * from {{ ref('stg_platform__orders') }}
),

-- current version of each line (staging), paid only, attributed through utm_campaign
rolled_up as (
    select
        orders.campaign_id,
        count(distinct orders.order_id) as attributed_orders,
        coalesce(sum(orders.quantity * orders.unit_price), 0) as attributed_revenue
    from orders
    where
        orders.campaign_id is not null
        and orders.order_status = 'paid'
    group by orders.campaign_id
)

select * from rolled_up
