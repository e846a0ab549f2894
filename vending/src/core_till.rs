//! The [`Till`] of the school's own books: a vending machine's basket is judged by the
//! canteen's rules in `schoolcard-core` — the day's menu and prices, the parents' bans,
//! the daily limit, the balance and its floor — exactly as at the cashier's till, and a
//! confirmed authorization is journaled as a sale by the machine (`vending:<id>`).

use crate::{Denial, Quote, QuoteRequest, QuotedLine, Sale, Till, TillUnavailable};
use schoolcard_core::canteen::{BasketLine, PricedLine, ProductId, SaleTotal, TillReason};
use schoolcard_core::domain::PersonId;
use schoolcard_core::money::Kopecks;
use schoolcard_core::Workstation;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

/// The canteen's books on a connection of the vending API's own.
pub struct CoreTill {
    workstation: Mutex<Workstation>,
}

impl CoreTill {
    pub fn open(database: &Path) -> Result<CoreTill, TillUnavailable> {
        let workstation =
            Workstation::open(database).map_err(|e| TillUnavailable(e.to_string()))?;
        Ok(CoreTill {
            workstation: Mutex::new(workstation),
        })
    }
}

/// What a machine's display shows for a refusal, in Russian (the school's language).
fn sentence(reason: TillReason) -> &'static str {
    match reason {
        TillReason::UnknownCard => "Карта не найдена или не действует",
        TillReason::NotAPupil => "Карта не ученика",
        TillReason::NotEntitled | TillReason::AlreadyServed => "Недоступно",
        TillReason::BadBasket => "Неверная корзина",
        TillReason::NotOnMenu => "Этого нет в меню сегодня",
        TillReason::ProductBanned => "Запрещено родителями",
        TillReason::CategoryBanned => "Эта категория запрещена родителями",
        TillReason::AllergenBanned => "Содержит запрещённый аллерген",
        TillReason::DailyLimitExceeded => "Превышен дневной лимит",
        TillReason::InsufficientBalance => "Недостаточно средств",
        TillReason::OfflineBudgetExceeded => "Превышен лимит без связи",
    }
}

impl Till for CoreTill {
    fn quote(
        &self,
        request: &QuoteRequest<'_>,
        held: &dyn Fn(&str) -> i64,
    ) -> Result<Result<Quote, Denial>, TillUnavailable> {
        let mut basket = Vec::with_capacity(request.items.len());
        for item in request.items {
            let Ok(product_id) = item.product.parse::<ProductId>() else {
                return Ok(Err(Denial::new(
                    TillReason::NotOnMenu.as_str(),
                    format!("{}: {:?}", sentence(TillReason::NotOnMenu), item.product),
                )));
            };
            basket.push(BasketLine {
                product_id,
                quantity: item.quantity,
            });
        }
        let held = |person: PersonId| Kopecks(held(&person.to_string()));
        let verdict = self
            .workstation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .vending_quote(&request.card.to_string(), &basket, &held, request.at)
            .map_err(|e| TillUnavailable(e.to_string()))?;
        Ok(match verdict {
            Ok((person, sale)) => Ok(Quote {
                holder: person.to_string(),
                amount_kopecks: sale.total.0,
                lines: sale
                    .lines
                    .into_iter()
                    .map(|l| QuotedLine {
                        product: l.product_id.to_string(),
                        name: l.name,
                        category: l.category,
                        quantity: l.quantity,
                        price_kopecks: l.price.0,
                    })
                    .collect(),
            }),
            Err(refusal) => Err(Denial::new(
                refusal.reason.as_str(),
                sentence(refusal.reason),
            )),
        })
    }

    fn sell(&self, sale: &Sale<'_>) -> Result<(), TillUnavailable> {
        let person: PersonId = sale
            .quote
            .holder
            .parse()
            .map_err(|_| TillUnavailable(format!("not a person: {}", sale.quote.holder)))?;
        let mut lines = Vec::with_capacity(sale.quote.lines.len());
        for l in &sale.quote.lines {
            lines.push(PricedLine {
                product_id: l
                    .product
                    .parse()
                    .map_err(|_| TillUnavailable(format!("not a product: {}", l.product)))?,
                name: l.name.clone(),
                category: l.category.clone(),
                price: Kopecks(l.price_kopecks),
                quantity: l.quantity,
            });
        }
        self.workstation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .vending_sale(
                &format!("vending:{}", sale.machine_id),
                sale.sale_id,
                person,
                SaleTotal {
                    lines,
                    total: Kopecks(sale.quote.amount_kopecks),
                },
                sale.at,
            )
            .map_err(|e| TillUnavailable(e.to_string()))
    }
}
