using System.Globalization;
using Tally.Events;

namespace Tally.Rules;

internal enum FieldKind
{
    Text,
    Number,
    Flag,
    List,

    /// <summary>A free-form key/value attribute: text that compares as a number or flag when the rule's value is one.</summary>
    Attribute,
}

/// <summary>A PATH the rules can read, with a typed getter so comparisons never box on the hot path.</summary>
internal sealed record FieldDef<T>(
    string Path,
    FieldKind Kind,
    Func<T, string?>? Text = null,
    Func<T, decimal?>? Number = null,
    Func<T, bool?>? Flag = null,
    Func<T, IReadOnlyList<string>?>? List = null)
{
    /// <summary>The value as an object, for traces and templates only.</summary>
    public object? Actual(T ctx) => Kind switch
    {
        FieldKind.Number => Number!(ctx),
        FieldKind.Flag => Flag!(ctx),
        FieldKind.List => List!(ctx),
        _ => Text!(ctx),
    };
}

/// <summary>The PATH catalogue of contracts/rules.md, per event type.</summary>
internal static class RuleFields
{
    private static FieldDef<EvalContext> T(string p, Func<EvalContext, string?> f) => new(p, FieldKind.Text, Text: f);
    private static FieldDef<EvalContext> N(string p, Func<EvalContext, decimal?> f) => new(p, FieldKind.Number, Number: f);
    private static FieldDef<EvalContext> F(string p, Func<EvalContext, bool?> f) => new(p, FieldKind.Flag, Flag: f);
    private static FieldDef<EvalContext> L(string p, Func<EvalContext, IReadOnlyList<string>?> f) => new(p, FieldKind.List, List: f);

    private static readonly FieldDef<EvalContext>[] Common =
    [
        T("nameSpace", c => c.Body.NameSpace),
        T("reference", c => c.Body.Reference),
        T("campaign", c => c.Body.Campaign),
        T("customer.customerId", c => c.Customer.CustomerId.ToString()),
        T("customer.firstName", c => c.Customer.FirstName),
        T("customer.lastName", c => c.Customer.LastName),
        T("customer.displayName", c => c.Customer.DisplayName),
        T("customer.emailAddress", c => c.Customer.EmailAddress),
        T("customer.mobileNumber", c => c.Customer.MobileNumber),
        T("customer.contactPhone", c => c.Customer.ContactPhone),
        F("customer.optinSms", c => c.Customer.OptinSms),
        F("customer.optinEmail", c => c.Customer.OptinEmail),
        F("customer.acceptTerms", c => c.Customer.AcceptTerms),
        F("customer.isAccountLocked", c => c.Customer.IsAccountLocked),
        T("customer.dateOfBirth", c => c.Customer.DateOfBirth?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)),
        T("customer.externalReference", c => c.Customer.ExternalReference),
        T("customer.externalStatus", c => c.Customer.ExternalStatus),
        T("customer.createdAt", c => c.Customer.CreatedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)),
        N("customer.yearsSinceJoining", c => c.YearsSinceJoining),
        N("customer.pointsBalance", c => c.Customer.PointsBalance),
        N("customer.pendingPoints", c => c.Customer.PendingPoints),
        N("customer.lifetimeEarned", c => c.Customer.LifetimeEarned),
        N("customer.lifetimeRedeemed", c => c.Customer.LifetimeRedeemed),
        T("customer.tier", c => c.Customer.Tier),
        L("customer.segments", c => c.Customer.Segments),
    ];

    private static readonly Dictionary<RuleEventType, Dictionary<string, FieldDef<EvalContext>>> ByType = new()
    {
        [RuleEventType.Action] = Build(
            N("action.count", c => c.Action?.Count),
            N("action.amount", c => c.Action?.Amount)),
        [RuleEventType.Order] = Build(
            N("order.total", c => c.Order?.Total),
            N("order.taxTotal", c => c.Order?.TaxTotal),
            N("order.shippingTotal", c => c.Order?.ShippingTotal),
            N("order.rewardsEligibleTotal", c => c.Order?.RewardsEligibleTotal),
            T("order.currencyCode", c => c.Order?.CurrencyCode),
            T("order.orderStatus", c => c.Order?.OrderStatus),
            T("order.financialStatus", c => c.Order?.FinancialStatus),
            T("order.paymentDetail.bin", c => c.Order?.PaymentDetail?.Bin),
            T("order.paymentDetail.bank", c => c.Order?.PaymentDetail?.Bank),
            T("order.paymentDetail.scheme", c => c.Order?.PaymentDetail?.Scheme),
            T("order.paymentDetail.segmentation", c => c.Order?.PaymentDetail?.Segmentation),
            N("order.paymentDetail.paymentAmount", c => c.Order?.PaymentDetail?.PaymentAmount),
            N("order.quantity", c => c.LineQuantity),
            L("order.skus", c => c.Skus),
            L("order.vendors", c => c.Vendors),
            L("order.categories", c => c.Categories),
            L("order.productTypes", c => c.ProductTypes)),
        [RuleEventType.Transaction] = Build(
            N("transaction.total", c => c.Transaction?.Total),
            T("transaction.source", c => c.Transaction?.Source),
            N("transaction.quantity", c => c.Transaction?.Quantity)),
        [RuleEventType.Spend] = Build(
            N("spend.total", c => c.SpendTotal)),
        [RuleEventType.Points] = Build(
            N("points.quantity", c => c.Points?.Quantity),
            N("points.previousBalance", c => c.Points?.PreviousBalance),
            N("points.balance", c => c.Points?.Balance),
            T("points.campaign", c => c.Points?.Campaign),
            N("points.lifetimeEarned", c => c.Points?.LifetimeEarned)),
        [RuleEventType.Calendar] = Build(
            N("calendar.yearsSinceJoining", c => c.Calendar?.YearsSinceJoining),
            T("calendar.kind", c => c.Calendar?.Kind)),
        [RuleEventType.Basket] = Build(
            N("basket.total", c => c.Basket?.BasketTotal),
            N("basket.taxTotal", c => c.Basket?.TaxTotal),
            N("basket.shippingTotal", c => c.Basket?.ShippingTotal),
            N("basket.rewardsEligibleTotal", c => c.Basket?.RewardsEligibleTotal),
            N("basket.paymentAmount", c => c.Basket?.PaymentAmount),
            T("basket.currencyCode", c => c.Basket?.CurrencyCode),
            N("basket.quantity", c => c.LineQuantity),
            L("basket.skus", c => c.Skus),
            L("basket.vendors", c => c.Vendors),
            L("basket.categories", c => c.Categories),
            L("basket.productTypes", c => c.ProductTypes)),
    };

    private static Dictionary<string, FieldDef<EvalContext>> Build(params FieldDef<EvalContext>[] specific) =>
        Common.Concat(specific).ToDictionary(f => f.Path, StringComparer.Ordinal);

    public static FieldDef<EvalContext>? Find(RuleEventType type, string path)
    {
        if (ByType[type].TryGetValue(path, out var def)) return def;
        if (Key(path, "attributes.") is { } key)
            return new(path, FieldKind.Attribute, Text: c => EvalContext.Attribute(c.Body.Attributes, key));
        if (Key(path, "customer.attributes.") is { } ckey)
            return new(path, FieldKind.Attribute, Text: c => EvalContext.Attribute(c.Customer.Attributes, ckey));
        return null;
    }

    private static readonly Dictionary<string, FieldDef<LineItem>> Line = new FieldDef<LineItem>[]
    {
        new("sku", FieldKind.Text, Text: l => l.Sku),
        new("productId", FieldKind.Text, Text: l => l.ProductId),
        new("vendor", FieldKind.Text, Text: l => l.Vendor),
        new("name", FieldKind.Text, Text: l => l.Name),
        new("category", FieldKind.List, List: l => l.Tags),
        new("productType", FieldKind.Text, Text: l => l.ProductType),
        new("quantity", FieldKind.Number, Number: l => l.Quantity),
        new("itemPrice", FieldKind.Number, Number: l => l.ItemPrice),
        new("totalPrice", FieldKind.Number, Number: l => l.LineTotal),
    }.ToDictionary(f => f.Path, StringComparer.Ordinal);

    public static FieldDef<LineItem>? FindLine(string path)
    {
        if (Line.TryGetValue(path, out var def)) return def;
        // Basket items carry "keyValues", order lines "attributes": both answer attributes.<key>.
        if (Key(path, "attributes.") is { } key)
            return new(path, FieldKind.Attribute, Text: l => EvalContext.Attribute(l.Attributes, key) ?? EvalContext.Attribute(l.KeyValues, key));
        return null;
    }

    /// <summary>Numeric PATHs a pointsRate may multiply.</summary>
    public static bool IsNumber(RuleEventType type, string path) => ByType[type].TryGetValue(path, out var d) && d.Kind == FieldKind.Number;

    private static string? Key(string path, string prefix) =>
        path.StartsWith(prefix, StringComparison.Ordinal) && path.Length > prefix.Length ? path[prefix.Length..] : null;
}
