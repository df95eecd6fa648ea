using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tally.Events;

// The payloads of the Event API, shaped as the seed's samples (001_…). Ids arrive as strings so that a
// non-UUID is a validation error naming its path rather than a JSON type error. Every field is optional
// at the JSON level; EventValidation decides what is required.

public enum EventType
{
    Action,
    Order,
    Transaction,
    Basket,
    Redemption,
    Calendar,

    /// <summary>A balance change, produced by the ledger (never posted by clients): what `points` rules assess.</summary>
    Points,
}

public sealed record KeyValue
{
    public string? Key { get; init; }

    [JsonConverter(typeof(LenientStringConverter))]
    public string? Value { get; init; }
}

/// <summary>The fields every event carries.</summary>
public abstract record EventBody
{
    public string? EventId { get; init; }
    public string? CustomerId { get; init; }
    public string? NameSpace { get; init; }
    public string? Reference { get; init; }
    public string? Campaign { get; init; }
    public string? Description { get; init; }
    public DateTimeOffset? CreatedAt { get; init; }
    public IReadOnlyList<KeyValue>? Attributes { get; init; }
}

public sealed record ActionEvent : EventBody
{
    public ActionDetail? Action { get; init; }
}

public sealed record ActionDetail
{
    public decimal? Amount { get; init; }
    public long? Count { get; init; }
}

public sealed record OrderEvent : EventBody
{
    public OrderDetail? Order { get; init; }
}

public sealed record OrderDetail
{
    [JsonConverter(typeof(LenientStringConverter))]
    public string? OrderId { get; init; }
    public string? OrderStatus { get; init; }
    public string? FinancialStatus { get; init; }

    // The seed spells it both "currencyCOde" and "currencyCode"; binding is case-insensitive so both land here.
    public string? CurrencyCode { get; init; }
    public decimal? Total { get; init; }
    public decimal? TaxTotal { get; init; }
    public decimal? ShippingTotal { get; init; }
    public decimal? RewardsEligibleTotal { get; init; }
    public IReadOnlyList<LineItem>? OrderItems { get; init; }
    public PaymentDetail? PaymentDetail { get; init; }
    public RedemptionDetailOfOrder? RedemptionDetail { get; init; }
    public Address? BillingAddress { get; init; }
    public Address? ShippingAddress { get; init; }
}

/// <summary>An order line or a basket item (the basket's items may nest parts).</summary>
public sealed record LineItem
{
    public long? OrderLineId { get; init; }

    [JsonConverter(typeof(LenientStringConverter))]
    public string? BasketItemId { get; init; }

    [JsonConverter(typeof(LenientStringConverter))]
    public string? BasketItemPartId { get; init; }
    public decimal? Quantity { get; init; }
    public decimal? ItemPrice { get; init; }
    public decimal? TotalPrice { get; init; }

    [JsonConverter(typeof(LenientStringConverter))]
    public string? ProductId { get; init; }

    [JsonConverter(typeof(LenientStringConverter))]
    public string? Sku { get; init; }
    public string? Name { get; init; }
    public string? Vendor { get; init; }
    public string? ProductType { get; init; }
    public IReadOnlyList<string>? Tags { get; init; }
    public IReadOnlyList<KeyValue>? KeyValues { get; init; }
    public IReadOnlyList<KeyValue>? Attributes { get; init; }
    public IReadOnlyList<LineItem>? BasketItemParts { get; init; }

    /// <summary>The line total: totalPrice when given, else quantity × itemPrice.</summary>
    [JsonIgnore]
    public decimal LineTotal => TotalPrice ?? (Quantity ?? 1m) * (ItemPrice ?? 0m);
}

public sealed record PaymentDetail
{
    [JsonConverter(typeof(LenientStringConverter))]
    public string? Bin { get; init; }
    public string? Bank { get; init; }
    public string? Scheme { get; init; }
    public string? Segmentation { get; init; }
    public decimal? PaymentAmount { get; init; }
}

public sealed record RedemptionDetailOfOrder
{
    public decimal? PointsAmount { get; init; }
}

public sealed record Address
{
    public string? Street1 { get; init; }
    public string? Street2 { get; init; }
    public string? City { get; init; }
    public string? State { get; init; }
    public string? StateCode { get; init; }
    public string? Country { get; init; }
    public string? CountryCode { get; init; }

    [JsonConverter(typeof(LenientStringConverter))]
    public string? PostalCode { get; init; }

    [JsonConverter(typeof(LenientStringConverter))]
    public string? PhoneNumber { get; init; }
}

public sealed record TransactionEvent : EventBody
{
    public TransactionDetail? Transaction { get; init; }
}

public sealed record TransactionDetail
{
    // The seed's table says decimal, its sample says "string": both bind.
    [JsonConverter(typeof(LenientStringConverter))]
    public string? Source { get; init; }
    public decimal? Total { get; init; }
    public decimal? Quantity { get; init; }
}

public sealed record BasketEvent : EventBody
{
    public string? TenantId { get; init; }
    public BasketDetail? Basket { get; init; }
}

public sealed record BasketDetail
{
    [JsonConverter(typeof(LenientStringConverter))]
    public string? BasketId { get; init; }
    public CustomerInfo? CustomerInfo { get; init; }
    public string? CurrencyCode { get; init; }
    public decimal? BasketTotal { get; init; }
    public decimal? TaxTotal { get; init; }
    public decimal? ShippingTotal { get; init; }
    public decimal? RewardsEligibleTotal { get; init; }
    public decimal? PaymentAmount { get; init; }
    public IReadOnlyList<LineItem>? BasketItems { get; init; }
    public IReadOnlyList<Surcharge>? Surcharges { get; init; }
    public Address? BillingAddress { get; init; }
    public Address? ShippingAddress { get; init; }
}

public sealed record CustomerInfo
{
    public string? ExternalReference { get; init; }
}

public sealed record Surcharge
{
    public string? Name { get; init; }
    public decimal? Amount { get; init; }
}

public sealed record RedemptionEvent : EventBody
{
    public RedemptionDetail? Redemption { get; init; }
}

public sealed record RedemptionDetail
{
    public string? ExternalReference { get; init; }
    public long? Quantity { get; init; }
}

/// <summary>A scheduled or calendar event (anniversary, birthday, trigger): produced by Tally itself.</summary>
public sealed record CalendarEvent : EventBody
{
    public CalendarDetail? Calendar { get; init; }
}

public sealed record CalendarDetail
{
    public string? Kind { get; init; }
    public int? YearsSinceJoining { get; init; }
}

/// <summary>Reads a JSON string, number or boolean as its text: ids and codes arrive both ways in the wild.</summary>
public sealed class LenientStringConverter : JsonConverter<string?>
{
    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType switch
        {
            JsonTokenType.String => reader.GetString(),
            JsonTokenType.Number => System.Text.Encoding.UTF8.GetString(reader.ValueSpan),
            JsonTokenType.True => "true",
            JsonTokenType.False => "false",
            JsonTokenType.Null => null,
            _ => throw new JsonException("Expected a string."),
        };

    public override void Write(Utf8JsonWriter writer, string? value, JsonSerializerOptions options)
    {
        if (value is null) writer.WriteNullValue();
        else writer.WriteStringValue(value);
    }
}

/// <summary>A change of a customer's points balance, produced by the ledger: what `points` rules assess.</summary>
public sealed record PointsEvent : EventBody
{
    public PointsDetail? Points { get; init; }
}

public sealed record PointsDetail
{
    /// <summary>The change: positive for an award, negative for a redemption or expiry.</summary>
    public long? Quantity { get; init; }
    public long? PreviousBalance { get; init; }
    public long? Balance { get; init; }
    public string? Campaign { get; init; }
    public long? LifetimeEarned { get; init; }
}
