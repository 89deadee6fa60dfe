-- CrownSync app database: the source contract as DDL.
--
-- This is the shape the warehouse expects of the platform's transactional database
-- (schema `public`). The simulator creates exactly this in the demo source database;
-- tests check the simulator's output against it and against ingestion/app_db/tables.yml.
-- A real source may carry extra columns; ingestion keeps them.

create table users (
    id uuid primary key,
    email varchar(255) not null unique,
    full_name varchar(255) not null,
    role varchar(50) not null check (role in ('brand', 'retailer', 'admin')),
    region varchar(100),
    company_name varchar(255),
    phone varchar(50),
    brand_id uuid,
    retailer_id uuid,
    is_active boolean not null default true,
    last_login timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table brands (
    brand_id uuid primary key,
    brand_name varchar(255) not null,
    brand_description text,
    industry varchar(100),
    headquarters_region varchar(100),
    website_url text,
    logo_url text,
    primary_color varchar(7),
    secondary_color varchar(7),
    created_by uuid references users (id),
    is_active boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table retailers (
    retailer_id uuid primary key,
    retailer_name varchar(255) not null,
    region varchar(100) not null,
    contact_email varchar(255),
    contact_phone varchar(50),
    address text,
    city varchar(100),
    state varchar(100),
    country varchar(100),
    postal_code varchar(20),
    website_url text,
    store_type varchar(100) check (store_type in ('boutique', 'department', 'online')),
    tier varchar(50) not null,
    is_active boolean not null default true,
    onboarding_date date,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

alter table users add foreign key (brand_id) references brands (brand_id);
alter table users add foreign key (retailer_id) references retailers (retailer_id);

create table campaigns (
    campaign_id uuid primary key,
    campaign_name varchar(255) not null,
    campaign_description text,
    campaign_type varchar(50) not null check (campaign_type in ('social', 'email', 'sms', 'mixed')),
    campaign_status varchar(50) not null
        check (campaign_status in ('draft', 'active', 'paused', 'completed', 'archived')),
    brand_id uuid not null references brands (brand_id),
    start_date date not null,
    end_date date,
    budget_allocated numeric(12, 2),
    budget_spent numeric(12, 2) default 0,
    target_audience text,
    campaign_objectives text[],
    performance_tier varchar(50) check (performance_tier in ('high', 'good', 'standard')),
    trend_direction varchar(50) check (trend_direction in ('up', 'down', 'stable')),
    created_by uuid references users (id),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table campaign_retailers (
    id uuid primary key,
    campaign_id uuid not null references campaigns (campaign_id),
    retailer_id uuid not null references retailers (retailer_id),
    participation_status varchar(50) not null
        check (participation_status in ('active', 'inactive', 'pending')),
    joined_date date not null,
    performance_score numeric(5, 2),
    notes text,
    created_at timestamptz not null default now()
);

create table email_campaigns (
    email_campaign_id uuid primary key,
    campaign_id uuid not null references campaigns (campaign_id),
    email_subject varchar(500) not null,
    sender_email varchar(255) not null,
    sender_name varchar(255),
    template_id uuid,
    total_recipients integer,
    sent_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table email_sends (
    send_id uuid primary key,
    email_campaign_id uuid not null references email_campaigns (email_campaign_id),
    retailer_id uuid not null references retailers (retailer_id),
    recipient_email varchar(255) not null,
    recipient_name varchar(255),
    send_status varchar(50) not null check (send_status in ('sent', 'delivered', 'bounced', 'failed')),
    sent_at timestamptz,
    delivered_at timestamptz,
    opened_at timestamptz,
    clicked_at timestamptz,
    open_count integer default 0,
    click_count integer default 0,
    bounce_reason text,
    unsubscribed_at timestamptz,
    spam_reported_at timestamptz,
    user_agent text,
    ip_address inet,
    location_data jsonb,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table sms_campaigns (
    sms_campaign_id uuid primary key,
    campaign_id uuid not null references campaigns (campaign_id),
    sms_content text not null,
    sender_number varchar(20) not null,
    total_recipients integer,
    sent_at timestamptz,
    created_at timestamptz not null default now()
);

create table sms_sends (
    sms_send_id uuid primary key,
    sms_campaign_id uuid not null references sms_campaigns (sms_campaign_id),
    retailer_id uuid not null references retailers (retailer_id),
    recipient_phone varchar(20) not null,
    recipient_name varchar(255),
    status varchar(50) not null check (status in ('pending', 'sent', 'delivered', 'failed')),
    sent_at timestamptz,
    delivered_at timestamptz,
    clicked_at timestamptz,
    failure_reason text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table social_accounts (
    account_id uuid primary key,
    retailer_id uuid references retailers (retailer_id),
    brand_id uuid references brands (brand_id),
    platform varchar(50) not null
        check (platform in ('facebook', 'instagram', 'twitter', 'linkedin', 'tiktok', 'youtube')),
    account_handle varchar(255) not null,
    account_name varchar(255),
    follower_count integer default 0,
    is_verified boolean default false,
    is_active boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check ((retailer_id is null) <> (brand_id is null))
);

create table social_posts (
    post_id uuid primary key,
    account_id uuid not null references social_accounts (account_id),
    campaign_id uuid references campaigns (campaign_id),
    post_content text,
    post_type varchar(50) check (post_type in ('text', 'image', 'video', 'carousel', 'story', 'reel')),
    external_post_id varchar(255),
    scheduled_at timestamptz,
    published_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table social_analytics (
    analytics_id uuid primary key,
    post_id uuid not null references social_posts (post_id),
    analytics_date date not null,
    impressions integer not null default 0,
    reach integer not null default 0,
    engagement integer not null default 0,
    likes integer not null default 0,
    comments integer not null default 0,
    shares integer not null default 0,
    saves integer not null default 0,
    clicks integer not null default 0,
    video_views integer,
    created_at timestamptz not null default now(),
    unique (post_id, analytics_date)
);

create table customers (
    customer_id uuid primary key,
    retailer_id uuid not null references retailers (retailer_id),
    first_name varchar(255),
    last_name varchar(255),
    email varchar(255) unique,
    phone varchar(50),
    date_of_birth date,
    gender varchar(20),
    address_line1 varchar(255),
    address_line2 varchar(255),
    city varchar(100),
    state varchar(100),
    postal_code varchar(20),
    country varchar(100),
    customer_tier varchar(50) default 'bronze'
        check (customer_tier in ('bronze', 'silver', 'gold', 'platinum')),
    lifetime_value numeric(10, 2) default 0,
    total_orders integer default 0,
    last_order_date date,
    acquisition_source varchar(100),
    acquisition_date date default current_date,
    communication_preferences jsonb,
    tags text[],
    notes text,
    is_active boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table customer_interactions (
    interaction_id uuid primary key,
    customer_id uuid not null references customers (customer_id),
    retailer_id uuid not null references retailers (retailer_id),
    interaction_type varchar(100) not null,
    interaction_channel varchar(50),
    interaction_subject varchar(500),
    interaction_details text,
    interaction_outcome varchar(100),
    staff_member varchar(255),
    interaction_duration integer,
    interaction_rating integer check (interaction_rating between 1 and 5),
    follow_up_required boolean default false,
    follow_up_date date,
    metadata jsonb,
    interaction_date timestamptz not null default now(),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table retailer_performance_metrics (
    metric_id uuid primary key,
    retailer_id uuid not null references retailers (retailer_id),
    metric_date date not null,
    metric_period varchar(20) not null
        check (metric_period in ('daily', 'weekly', 'monthly', 'quarterly')),
    revenue numeric(12, 2) default 0,
    orders_count integer default 0,
    average_order_value numeric(10, 2) default 0,
    customer_acquisition_cost numeric(10, 2) default 0,
    customer_lifetime_value numeric(10, 2) default 0,
    conversion_rate numeric(5, 2) default 0,
    email_open_rate numeric(5, 2) default 0,
    email_click_rate numeric(5, 2) default 0,
    social_engagement_rate numeric(5, 2) default 0,
    social_follower_growth integer default 0,
    website_traffic integer default 0,
    bounce_rate numeric(5, 2) default 0,
    page_views integer default 0,
    session_duration integer default 0,
    inventory_turnover numeric(8, 2) default 0,
    return_rate numeric(5, 2) default 0,
    customer_satisfaction numeric(3, 1) check (customer_satisfaction between 1.0 and 5.0),
    net_promoter_score integer check (net_promoter_score between -100 and 100),
    market_share numeric(5, 2) default 0,
    competitive_ranking integer,
    performance_score numeric(5, 2) default 0,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (retailer_id, metric_date, metric_period)
);

create table retailer_scores (
    score_id uuid primary key,
    retailer_id uuid not null references retailers (retailer_id),
    email_response_time_hours numeric(4, 1),
    social_response_time_hours numeric(4, 1),
    social_post_frequency_per_week numeric(3, 1),
    response_quality_grade char(1) check (response_quality_grade in ('A', 'B', 'C')),
    first_followup_time_hours numeric(4, 1),
    campaign_roi_percentage numeric(5, 1),
    calculated_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table watch_models (
    model_id uuid primary key,
    brand_id uuid not null references brands (brand_id),
    model_name varchar(255) not null,
    collection_name varchar(255) not null,
    size varchar(20) not null,
    gender varchar(20) not null,
    material varchar(255) not null,
    mpn varchar(100) not null unique,
    retail_price numeric(12, 2),
    is_active boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table wish_list_items (
    wish_id uuid primary key,
    model_id uuid not null references watch_models (model_id),
    retailer_id uuid not null references retailers (retailer_id),
    customer_id uuid references customers (customer_id),
    wish_count integer not null check (wish_count >= 1),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table brand_assets (
    asset_id uuid primary key,
    brand_id uuid not null references brands (brand_id),
    asset_name varchar(255) not null,
    asset_type varchar(50) not null check (asset_type in ('image', 'video', 'document', 'template')),
    asset_category varchar(100),
    file_format varchar(20),
    file_size bigint default 0,
    usage_count integer default 0,
    approval_status varchar(50) default 'pending'
        check (approval_status in ('pending', 'approved', 'rejected')),
    is_active boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table asset_downloads (
    download_id uuid primary key,
    asset_id uuid not null references brand_assets (asset_id),
    retailer_id uuid not null references retailers (retailer_id),
    user_id uuid references users (id),
    action_type varchar(20) not null check (action_type in ('view', 'download', 'share')),
    occurred_at timestamptz not null,
    created_at timestamptz not null default now()
);
