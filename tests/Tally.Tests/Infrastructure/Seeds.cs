namespace Tally.Tests.Infrastructure;

/// <summary>The request samples of the Event API seed (001_…), as they stand but for the two ids, which must be UUIDs.</summary>
public static class Seeds
{
    public static string Sample(string endpoint, Guid eventId, Guid customerId) => (endpoint switch
    {
        "actions" => Actions,
        "orders" => Orders,
        "transactions" => Transactions,
        "basket" => Basket,
        "redemptions" => Redemptions,
        _ => throw new ArgumentOutOfRangeException(nameof(endpoint)),
    })
    .Replace("\"eventId\": \"string\"", $"\"eventId\": \"{eventId}\"", StringComparison.Ordinal)
    .Replace("\"customerId\": \"string\"", $"\"customerId\": \"{customerId}\"", StringComparison.Ordinal);

    private const string Actions = """
        {
          "action": {
            "amount": 0,
            "count": 0
          },
          "eventId": "string",
          "customerId": "string",
          "nameSpace": "string",
          "reference": "string",
          "campaign": "string",
          "attributes": [
            {
              "key": "string",
              "value": "string"
            }
          ]
        }
        """;

    private const string Orders = """
        {
          "order": {
            "orderId": "string",
            "orderStatus": "string",
            "financialStatus": "string",
            "currencyCode": "string",
            "total": 0,
            "taxTotal": 0,
            "shippingTotal": 0,
            "rewardsEligibleTotal": 0,
            "orderItems": [
              {
                "orderLineId": 0,
                "quantity": 0,
                "itemPrice": 0,
                "productId": "string",
                "sku": "string",
                "name": "string",
                "vendor": "string"
              }
            ],
            "paymentDetail": {
              "bin": "string",
              "bank": "string",
              "scheme": "string",
              "segmentation": "string",
              "paymentAmount": 0
            },
            "redemptionDetail": {
              "pointsAmount": 0
            },
            "billingAddress": {
              "street1": "string",
              "street2": "string",
              "city": "string",
              "state": "string",
              "stateCode": "string",
              "country": "string",
              "countryCode": "string",
              "postalCode": "string",
              "phoneNumber": "string"
            },
            "shippingAddress": {
              "street1": "string",
              "street2": "string",
              "city": "string",
              "state": "string",
              "stateCode": "string",
              "country": "string",
              "countryCode": "string",
              "postalCode": "string",
              "phoneNumber": "string"
            }
          },
          "eventId": "string",
          "customerId": "string",
          "nameSpace": "string",
          "reference": "string",
          "campaign": "string",
          "attributes": [
            {
              "key": "string",
              "value": "string"
            }
          ]
        }
        """;

    private const string Transactions = """
        {
          "transaction": {
            "source": "string",
            "total": 0
          },
          "eventId": "string",
          "customerId": "string",
          "nameSpace": "string",
          "reference": "string",
          "campaign": "string",
          "attributes": [
            {
              "key": "string",
              "value": "string"
            }
          ]
        }
        """;

    private const string Basket = """
        {
          "basket": {
            "basketId": "string",
            "customerInfo": {
              "externalReference": "string"
            },
            "currencyCode": "string",
            "basketTotal": 0,
            "taxTotal": 0,
            "shippingTotal": 0,
            "basketItems": [
              {
                "basketItemId": "string",
                "basketItemParts": [
                  {
                    "basketItemPartId": "string",
                    "quantity": 0,
                    "itemPrice": 0,
                    "totalPrice": 0,
                    "productId": "string",
                    "sku": "string",
                    "name": "string",
                    "vendor": "string",
                    "tags": [
                      "string"
                    ],
                    "keyValues": [
                      {
                        "key": "string",
                        "value": "string"
                      }
                    ]
                  }
                ],
                "quantity": 0,
                "itemPrice": 0,
                "totalPrice": 0,
                "productId": "string",
                "sku": "string",
                "name": "string",
                "vendor": "string",
                "tags": [
                  "string"
                ],
                "keyValues": [
                  {
                    "key": "string",
                    "value": "string"
                  }
                ]
              }
            ],
            "surcharges": [
              {
                "name": "string",
                "amount": 0
              }
            ],
            "billingAddress": {
              "street1": "string",
              "street2": "string",
              "city": "string",
              "state": "string",
              "stateCode": "string",
              "country": "string",
              "countryCode": "string",
              "postalCode": "string",
              "phoneNumber": "string"
            },
            "shippingAddress": {
              "street1": "string",
              "street2": "string",
              "city": "string",
              "state": "string",
              "stateCode": "string",
              "country": "string",
              "countryCode": "string",
              "postalCode": "string",
              "phoneNumber": "string"
            }
          },
          "eventId": "string",
          "tenantId": "string",
          "customerId": "string",
          "createdAt": "2020-05-15T11:55:47.515Z",
          "nameSpace": "string",
          "reference": "string",
          "description": "string",
          "campaign": "string",
          "attributes": [
            {
              "key": "string",
              "value": "string"
            }
          ]
        }
        """;

    private const string Redemptions = """
        {
          "redemption": {
            "externalReference": "string",
            "quantity": 0
          },
          "eventId": "string",
          "customerId": "string",
          "nameSpace": "string",
          "reference": "string",
          "campaign": "string",
          "attributes": [
            {
              "key": "string",
              "value": "string"
            }
          ]
        }
        """;
}
